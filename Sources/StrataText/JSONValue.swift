import StrataEngine
import StrataPlatform

/// A parsed JSON document (RFC 8259), each value with the line it starts on, so that errors
/// about a configuration file or an ingest body can name the place. Numbers keep their
/// text: an integer reads back exactly as `Int64`, and `1.10` is not rounded before the
/// reader decides what it wants.
public struct JSONValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case null
        case bool(Bool)
        case number(String)
        case string(String)
        case array([JSONValue])
        /// Members in document order (duplicates are refused by the parser).
        case object([Member])
    }

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
    }

    public var kind: Kind
    /// 1-based line of the value's first byte.
    public var line: Int

    public init(_ kind: Kind, line: Int = 1) {
        self.kind = kind
        self.line = line
    }

    /// Parses a whole document; `source` names it in errors (a path or "request body").
    /// A document of more than `maxValues` values is refused (a tree costs tens of bytes
    /// per value, so a body's size alone does not bound its memory).
    public static func parse(_ bytes: [UInt8], source: String? = nil, maxValues: Int = .max) throws(StrataError) -> JSONValue {
        try parseCounting(bytes, source: source, maxValues: maxValues).value
    }

    /// `parse`, also saying how many values the document held.
    static func parseCounting(_ bytes: [UInt8], source: String?, maxValues: Int) throws(StrataError) -> (value: JSONValue, count: Int) {
        var parser = JSONParser(bytes: bytes, source: source)
        parser.maxValues = maxValues
        let value = try parser.document()
        return (value, parser.values)
    }

    public static func parse(_ text: String, source: String? = nil) throws(StrataError) -> JSONValue {
        try parse(Array(text.utf8), source: source)
    }

    /// The value of `key` in an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = kind else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var string: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    /// A number that is a whole number in Int64's range (`12`, `-3`, `1e3` is not).
    public var int64: Int64? {
        if case .number(let text) = kind { return Int64(text) }
        return nil
    }

    public var double: Double? {
        if case .number(let text) = kind { return Double(text) }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = kind { return b }
        return nil
    }

    /// What a value is, for errors ("expected a string, found an array").
    public var typeName: String {
        switch kind {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A recursive-descent reader over UTF-8 bytes that counts lines.
struct JSONParser {
    static let maxDepth = 64

    let bytes: [UInt8]
    let source: String?
    var index = 0
    var line = 1
    var depth = 0
    var values = 0
    var maxValues = Int.max

    init(bytes: [UInt8], source: String?) {
        self.bytes = bytes
        self.source = source
    }

    mutating func document() throws(StrataError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        let v = try value()
        skipSpace()
        guard index == bytes.count else { throw error("unexpected \(describe(bytes[index])) after the document's end") }
        return v
    }

    func error(_ message: String) -> StrataError {
        StrataError(.invalidInput, "JSON: \(message)", path: source, offset: index, line: line)
    }

    func describe(_ b: UInt8) -> String {
        (0x21..<0x7F).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16, uppercase: true))"
    }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\n"): line += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): break
            default: return
            }
            index += 1
        }
    }

    mutating func value() throws(StrataError) -> JSONValue {
        values += 1
        guard values <= maxValues else { throw error("more than \(maxValues) values; split the document") }
        skipSpace()
        guard index < bytes.count else { throw error("the document ends where a value was expected") }
        let at = line
        switch bytes[index] {
        case UInt8(ascii: "{"): return JSONValue(.object(try object()), line: at)
        case UInt8(ascii: "["): return JSONValue(.array(try array()), line: at)
        case UInt8(ascii: "\""): return JSONValue(.string(try string()), line: at)
        case UInt8(ascii: "t"): try literal("true"); return JSONValue(.bool(true), line: at)
        case UInt8(ascii: "f"): try literal("false"); return JSONValue(.bool(false), line: at)
        case UInt8(ascii: "n"): try literal("null"); return JSONValue(.null, line: at)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return JSONValue(.number(try number()), line: at)
        case let b: throw error("unexpected \(describe(b)) where a value was expected")
        }
    }

    mutating func literal(_ word: StaticString) throws(StrataError) {
        let w = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - index >= w.count, bytes[index..<index + w.count].elementsEqual(w) else {
            throw error("unexpected \(describe(bytes[index])) where a value was expected")
        }
        index += w.count
    }

    mutating func enter() throws(StrataError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
    }

    mutating func object() throws(StrataError) -> [JSONValue.Member] {
        try enter()
        defer { depth -= 1 }
        index += 1
        var members: [JSONValue.Member] = []
        var seen: Set<String> = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return members }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a \"key\" in an object") }
            let keyLine = line
            let key = try string()
            guard seen.insert(key).inserted else {
                throw StrataError(.invalidInput, "JSON: key \"\(key)\" appears twice in one object", path: source, line: keyLine)
            }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after the key \"\(key)\"") }
            index += 1
            members.append(JSONValue.Member(key: key, value: try value()))
            skipSpace()
            guard index < bytes.count else { throw error("the document ends inside an object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return members }
            throw error("expected ',' or '}' in an object, found \(describe(bytes[index]))")
        }
    }

    mutating func array() throws(StrataError) -> [JSONValue] {
        try enter()
        defer { depth -= 1 }
        index += 1
        var elements: [JSONValue] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return elements }
        while true {
            elements.append(try value())
            skipSpace()
            guard index < bytes.count else { throw error("the document ends inside an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return elements }
            throw error("expected ',' or ']' in an array, found \(describe(bytes[index]))")
        }
    }

    /// The number's text, checked against JSON's grammar.
    mutating func number() throws(StrataError) -> String {
        let start = index
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.index
            while p.index < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.index]) { p.index += 1 }
            return p.index - s
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let whole = index
        guard digits(&self) > 0 else { throw error("a number needs digits after '-'") }
        if bytes[whole] == UInt8(ascii: "0"), index - whole > 1 { throw error("a number does not start with 0 followed by digits") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw error("a number needs digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw error("a number needs digits in its exponent") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func string() throws(StrataError) -> String {
        index += 1
        var out: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
                return s
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("a \\u escape of a high surrogate needs its low surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("a \\u escape of a high surrogate needs its low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("\\u\(String(scalar, radix: 16)) is not a Unicode scalar") }
                    out.append(contentsOf: String(Character(u)).utf8)
                default:
                    index -= 1
                    throw error("unknown escape \\\(describe(e)) in a string")
                }
            case 0x00..<0x20:
                throw error(b == 0x0A ? "a string ends at the end of its line (missing '\"')" : "a control character (0x\(String(b, radix: 16))) in a string; escape it")
            default:
                out.append(b)
                index += 1
            }
        }
        throw error("the document ends inside a string")
    }

    mutating func hex4() throws(StrataError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("\\u needs four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw error("\\u needs four hex digits")
            }
            v = v << 4 | UInt32(d)
            index += 1
        }
        return v
    }
}
