import StrataEngine

/// The settings of a configuration file: a small subset of TOML. `# comments`, `[section]`
/// headers, and `key = value` lines where a value is a "double-quoted string" (with `\"`,
/// `\\`, `\n`, `\t` escapes), an integer, or `true`/`false`. Keys before the first section
/// belong to the section "". Errors name the file and line.
public struct ConfigurationFile: Sendable {
    public enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case boolean(Bool)
    }

    public struct Entry: Sendable {
        public var value: Value
        public var line: Int
    }

    public let source: String
    /// Section → key → value.
    public private(set) var sections: [String: [String: Entry]] = [:]

    public init(text: String, source: String) throws(StrataError) {
        self.source = source
        var section = ""
        sections[""] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = n + 1
            let text = Self.stripComment(raw).trimmingSpaces()
            if text.isEmpty { continue }
            if text.hasPrefix("[") {
                guard text.hasSuffix("]"), text.count > 2 else { throw error(line, "a section header is [name]") }
                section = String(text.dropFirst().dropLast()).trimmingSpaces()
                guard Self.isBareKey(section) else {
                    throw error(line, "a section name is letters, digits, '_' and '-'")
                }
                guard sections[section] == nil || section.isEmpty else { throw error(line, "section [\(section)] appears twice") }
                sections[section] = [:]
                continue
            }
            guard let eq = text.firstIndex(of: "=") else { throw error(line, "expected key = value") }
            let key = String(text[..<eq]).trimmingSpaces()
            // Not echoed: a malformed line may hold a secret.
            guard Self.isBareKey(key) else { throw error(line, "expected key = value, with a key of letters, digits, '_' and '-'") }
            guard sections[section]?[key] == nil else { throw error(line, "key '\(key)' appears twice in [\(section)]") }
            let value = try parseValue(String(text[text.index(after: eq)...]).trimmingSpaces(), line: line)
            sections[section]![key] = Entry(value: value, line: line)
        }
    }

    /// Reads the file at `path`.
    public static func load(_ path: String) throws(StrataError) -> ConfigurationFile {
        let bytes = try MappedFile(path: path).withUnsafeBytes { Array($0) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StrataError(.invalidInput, "configuration file is not UTF-8", path: path)
        }
        return try ConfigurationFile(text: text, source: path)
    }

    func error(_ line: Int, _ message: String) -> StrataError {
        StrataError(.invalidInput, message, path: source, line: line)
    }

    /// Throws for any key of `section` not in `known` (a misspelt setting must not be
    /// silently ignored), and for unknown sections when `knownSections` is given.
    public func check(_ section: String, known: Set<String>) throws(StrataError) {
        for (key, entry) in sections[section] ?? [:] where !known.contains(key) {
            throw error(entry.line, "unknown setting '\(key)'\(section.isEmpty ? "" : " in [\(section)]") (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    public func checkSections(_ known: Set<String>) throws(StrataError) {
        for (section, entries) in sections where !section.isEmpty && !known.contains(section) {
            throw error(entries.values.map(\.line).min().map { $0 - 1 } ?? 1, "unknown section [\(section)] (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    public func string(_ section: String, _ key: String) throws(StrataError) -> String? {
        guard let entry = sections[section]?[key] else { return nil }
        guard case .string(let s) = entry.value else { throw error(entry.line, "'\(key)' must be a \"string\"") }
        return s
    }

    public func integer(_ section: String, _ key: String, in range: ClosedRange<Int64>) throws(StrataError) -> Int64? {
        guard let entry = sections[section]?[key] else { return nil }
        guard case .integer(let v) = entry.value else { throw error(entry.line, "'\(key)' must be a whole number") }
        guard range.contains(v) else { throw error(entry.line, "'\(key)' must be in \(range.lowerBound)…\(range.upperBound), not \(v)") }
        return v
    }

    public func boolean(_ section: String, _ key: String) throws(StrataError) -> Bool? {
        guard let entry = sections[section]?[key] else { return nil }
        guard case .boolean(let v) = entry.value else { throw error(entry.line, "'\(key)' must be true or false") }
        return v
    }

    /// A duration setting such as "10m", "7d", "0s" (nanoseconds); "never" gives nil
    /// through `never`.
    public func duration(_ section: String, _ key: String) throws(StrataError) -> Int64? {
        guard let text = try string(section, key) else { return nil }
        do throws(StrataError) {
            return try parseDuration(text)
        } catch {
            throw self.error(sections[section]![key]!.line, "'\(key)': \(error.message)")
        }
    }

    func parseValue(_ text: String, line: Int) throws(StrataError) -> Value {
        if text == "true" { return .boolean(true) }
        if text == "false" { return .boolean(false) }
        if let v = Int64(text.filter { $0 != "_" }), !text.hasPrefix("_") { return .integer(v) }
        guard text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 else {
            throw error(line, "a value is a \"string\", a whole number, true or false")
        }
        var out = ""
        var escaped = false
        for c in text.dropFirst().dropLast() {
            if escaped {
                switch c {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: throw error(line, "unknown escape \\\(c) in a string")
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                throw error(line, "a string ends at its second '\"'; write \\\" inside it")
            } else {
                out.append(c)
            }
        }
        if escaped { throw error(line, "a string ends in a lone backslash") }
        return .string(out)
    }

    static func stripComment(_ line: Substring) -> Substring {
        var inString = false, escaped = false
        for i in line.indices {
            let c = line[i]
            if escaped { escaped = false; continue }
            if c == "\\" && inString { escaped = true; continue }
            if c == "\"" { inString.toggle() }
            if c == "#" && !inString { return line[..<i] }
        }
        return line
    }

    static func isBareKey(_ key: String) -> Bool {
        !key.isEmpty && key.unicodeScalars.allSatisfy { (("0"..."9").contains($0) || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "_" || $0 == "-") }
    }
}

/// Parses a duration: a whole number and a unit (ns, us, ms, s, m, h, d, w), e.g. 250ms,
/// 10m, 180d; "0" and "0s" are zero.
public func parseDuration(_ text: String) throws(StrataError) -> Int64 {
    if text == "0" { return 0 }
    let units: [(String, Int64)] = [("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
                                    ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000),
                                    ("w", 604_800_000_000_000)]
    for (suffix, ns) in units where text.hasSuffix(suffix) {
        guard let n = Int64(text.dropLast(suffix.count)), n >= 0 else { break }
        let (v, overflow) = n.multipliedReportingOverflow(by: ns)
        if overflow { throw StrataError(.invalidInput, "duration '\(text)' is too long") }
        return v
    }
    throw StrataError(.invalidInput, "'\(text)' is not a duration: a whole number with a unit ns, us, ms, s, m, h, d or w (e.g. 10m, 180d)")
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
