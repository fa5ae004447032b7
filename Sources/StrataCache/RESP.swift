/// Redis commands in RESP, the protocol's request form (`*<n>\r\n` then `$<len>\r\n<bytes>\r\n`
/// per argument), appended into one buffer: a pipeline goes to the server in one write.
public struct RESPWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Commands in the buffer (each gets one reply).
    public private(set) var commands = 0
    /// Arguments the current command still expects.
    private var expected = 0

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    public var isEmpty: Bool { commands == 0 }

    /// Whether every command has all the arguments its header announced.
    public var isComplete: Bool { expected == 0 }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        commands = 0
        expected = 0
    }

    /// Appends a whole command.
    public mutating func command(_ arguments: [String]) {
        begin(arguments: arguments.count)
        for a in arguments { argument(a) }
    }

    /// Starts a command of `count` arguments; exactly that many `argument` calls follow.
    public mutating func begin(arguments count: Int) {
        assert(expected == 0, "the previous command lacks \(expected) arguments")
        expected = count
        commands += 1
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(Int64(count))
        bytes.append(13); bytes.append(10)
    }

    public mutating func argument(_ text: String) {
        var s = text
        s.withUTF8 { argument(bytes: UnsafeRawBufferPointer($0)) }
    }

    public mutating func argument(bytes raw: UnsafeRawBufferPointer) {
        assert(expected > 0, "more arguments than the command announced")
        expected -= 1
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(Int64(raw.count))
        bytes.append(13); bytes.append(10)
        bytes.append(contentsOf: raw)
        bytes.append(13); bytes.append(10)
    }

    public mutating func argument(bytes raw: [UInt8]) {
        raw.withUnsafeBytes { argument(bytes: $0) }
    }

    /// An integer argument in decimal, without going through a String.
    public mutating func argument(_ value: Int64) {
        assert(expected > 0, "more arguments than the command announced")
        expected -= 1
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: 20 digits and a sign fit
        let count = withUnsafeMutableBytes(of: &digits) { buffer in Self.decimal(value, into: buffer) }
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(Int64(count))
        bytes.append(13); bytes.append(10)
        withUnsafeBytes(of: &digits) { bytes.append(contentsOf: $0[(24 - count)...]) }
        bytes.append(13); bytes.append(10)
    }

    private mutating func appendDecimal(_ value: Int64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let count = withUnsafeMutableBytes(of: &digits) { buffer in Self.decimal(value, into: buffer) }
        withUnsafeBytes(of: &digits) { bytes.append(contentsOf: $0[(24 - count)...]) }
    }

    /// Writes `value` in decimal at the end of a 24-byte buffer; returns how many bytes.
    private static func decimal(_ value: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var v = value.magnitude
        var at = 24
        repeat {
            at -= 1
            buffer[at] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        } while v > 0
        if value < 0 {
            at -= 1
            buffer[at] = UInt8(ascii: "-")
        }
        return 24 - at
    }
}

/// A reply from Redis.
public indirect enum RedisReply: Sendable, Equatable {
    case status(String)
    case error(String)
    case integer(Int64)
    case string([UInt8])
    case array([RedisReply])
    case null

    /// The text of a status or bulk string reply.
    public var text: String? {
        switch self {
        case .status(let s): s
        case .string(let b): String(decoding: b, as: UTF8.self)
        default: nil
        }
    }

    public var integer: Int64? {
        if case .integer(let v) = self { return v }
        return nil
    }

    public var array: [RedisReply]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var errorMessage: String? {
        if case .error(let e) = self { return e }
        return nil
    }
}
