import StrataEngine
import StrataPlatform
import StrataText

/// The settings of a JSON configuration file: an object whose members are sections
/// (objects of settings) or top-level settings, each setting a string, a number or a
/// boolean (null leaves a setting at its default). Errors name the file, the line and the setting's key path (`tiers.compact_after`).
///
/// Reading is forgiving so that one pass finds every mistake: a getter that meets a bad
/// value records the problem and returns nil, and `problems` lists them all.
/// `strata validate-config` prints that list; loading a configuration fails on the first.
public final class ConfigurationFile {
    public enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case real(Double)
        case boolean(Bool)
    }

    public struct Entry: Sendable {
        public var value: Value
        public var line: Int
    }

    public let source: String
    /// Section → key → value; top-level settings are in the section "".
    public private(set) var sections: [String: [String: Entry]] = [:]
    /// Every setting the file names, null ones too (`tiers.compact_after`).
    public private(set) var keyPaths: Set<String> = []
    /// The line each section starts on.
    public private(set) var sectionLines: [String: Int] = [:]
    /// Every problem found so far, in the order found.
    public private(set) var problems: [StrataError] = []

    public init(text: String, source: String) throws(StrataError) {
        self.source = source
        sections[""] = [:]
        let document = try JSONValue.parse(text, source: source)
        guard case .object(let members) = document.kind else {
            throw StrataError(.invalidInput, "a configuration is a JSON object ({ \"section\": { \"key\": value } }), not \(document.typeName)",
                              path: source, line: document.line)
        }
        for member in members {
            if case .object(let settings) = member.value.kind {
                sections[member.key] = [:]
                sectionLines[member.key] = member.value.line
                for setting in settings { add(member.key, setting.key, setting.value) }
            } else {
                add("", member.key, member.value)
            }
        }
    }

    func add(_ section: String, _ key: String, _ json: JSONValue) {
        keyPaths.insert(Self.keyPath(section, key))
        let value: Value
        switch json.kind {
        case .null: return  // unset: the default applies
        case .string(let s): value = .string(s)
        case .bool(let b): value = .boolean(b)
        case .number(let text):
            let whole = !text.contains { $0 == "." || $0 == "e" || $0 == "E" }
            if let i = Int64(text) { value = .integer(i) } else if whole {
                return problem(json.line, section, key, "\(text) is out of range")
            } else if let d = Double(text), d.isFinite { value = .real(d) } else {
                return problem(json.line, section, key, "\(text) is not a number Strata can hold")
            }
        default:
            return problem(json.line, section, key, "a setting is a string, a number or true/false, not \(json.typeName)")
        }
        sections[section]![key] = Entry(value: value, line: json.line)
    }

    /// Reads the file at `path`.
    public static func load(_ path: String) throws(StrataError) -> ConfigurationFile {
        let bytes = try MappedFile(path: path).withUnsafeBytes { Array($0) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StrataError(.invalidInput, "configuration file is not UTF-8", path: path)
        }
        return try ConfigurationFile(text: text, source: path)
    }

    /// The key path of a setting: `tiers.compact_after`, or `data_dir` at the top.
    public static func keyPath(_ section: String, _ key: String) -> String {
        section.isEmpty ? key : "\(section).\(key)"
    }

    /// Records a problem with a setting.
    public func problem(_ line: Int?, _ section: String, _ key: String, _ message: String) {
        problems.append(StrataError(.invalidInput, message, path: source, line: line, field: Self.keyPath(section, key)))
    }

    /// Records a problem with the setting `section.key` as the file has it.
    public func problem(_ section: String, _ key: String, _ message: String) {
        problem(sections[section]?[key]?.line, section, key, message)
    }

    /// Throws the first problem, saying how many more the file has (the CLI refuses a file
    /// with validate-config's list instead, which also counts the environment's problems).
    public func throwIfProblems() throws(StrataError) {
        guard var first = problems.first else { return }
        if problems.count > 1 { first.message += " (and \(problems.count - 1) more in this file; strata validate-config lists them)" }
        throw first
    }

    /// Records every key of `section` not in `known` (a misspelt setting must not be
    /// silently ignored).
    public func check(_ section: String, known: Set<String>) {
        for (key, entry) in (sections[section] ?? [:]).sorted(by: { $0.value.line < $1.value.line }) where !known.contains(key) {
            if section.isEmpty, !sections.keys.contains(key) {
                problem(entry.line, section, key, "unknown setting (known at the top: \(known.sorted().joined(separator: ", ")); sections: \(sectionLines.keys.sorted().joined(separator: ", ")))")
            } else {
                problem(entry.line, section, key, "unknown setting (known in \(section.isEmpty ? "the top level" : section): \(known.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// Records every section not in `known`.
    public func checkSections(_ known: Set<String>) {
        for (section, line) in sectionLines.sorted(by: { $0.value < $1.value }) where !known.contains(section) {
            problems.append(StrataError(.invalidInput, "unknown section (known: \(known.sorted().joined(separator: ", ")))", path: source, line: line, field: section))
        }
    }

    public func string(_ section: String, _ key: String) -> String? {
        guard let entry = sections[section]?[key] else { return nil }
        guard case .string(let s) = entry.value else { problem(section, key, "must be a \"string\""); return nil }
        return s
    }

    /// A string setting as the file has it, recording no problem: for checks that must see
    /// the value even when it is wrong (a secret in a malformed URL).
    public func text(_ section: String, _ key: String) -> String? {
        guard case .string(let s) = sections[section]?[key]?.value else { return nil }
        return s
    }

    public func integer(_ section: String, _ key: String, in range: ClosedRange<Int64>) -> Int64? {
        guard let entry = sections[section]?[key] else { return nil }
        guard case .integer(let v) = entry.value else { problem(section, key, "must be a whole number"); return nil }
        guard range.contains(v) else { problem(section, key, "must be in \(range.lowerBound)…\(range.upperBound), not \(v)"); return nil }
        return v
    }

    public func real(_ section: String, _ key: String, in range: ClosedRange<Double>) -> Double? {
        guard let entry = sections[section]?[key] else { return nil }
        let v: Double
        switch entry.value {
        case .integer(let i): v = Double(i)
        case .real(let d): v = d
        default: problem(section, key, "must be a number"); return nil
        }
        guard range.contains(v) else { problem(section, key, "must be in \(range.lowerBound)…\(range.upperBound), not \(v)"); return nil }
        return v
    }

    public func boolean(_ section: String, _ key: String) -> Bool? {
        guard let entry = sections[section]?[key] else { return nil }
        guard case .boolean(let v) = entry.value else { problem(section, key, "must be true or false"); return nil }
        return v
    }

    /// A duration setting such as "10m", "7d", "0s" (nanoseconds).
    public func duration(_ section: String, _ key: String) -> Int64? {
        guard let text = string(section, key) else { return nil }
        do throws(StrataError) {
            return try parseDuration(text)
        } catch {
            problem(section, key, error.message)
            return nil
        }
    }

    /// A setting that a function of its text turns into a value; its error is recorded.
    public func parsed<T>(_ section: String, _ key: String, _ parse: (String) throws(StrataError) -> T) -> T? {
        guard let text = string(section, key) else { return nil }
        do throws(StrataError) {
            return try parse(text)
        } catch {
            problem(section, key, error.message)
            return nil
        }
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

/// A duration as `parseDuration` reads it, in the largest unit up to days that divides it (180d, 90m,
/// 250ms); "0s" for zero.
public func durationText(_ ns: Int64) -> String {
    if ns == 0 { return "0s" }
    let units: [(String, Int64)] = [("d", 86_400_000_000_000), ("h", 3_600_000_000_000),
                                    ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)]
    for (suffix, size) in units where ns % size == 0 { return "\(ns / size)\(suffix)" }
    return "\(ns)ns"
}
