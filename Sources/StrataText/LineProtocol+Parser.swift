import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform

extension LineProtocol {
    /// A line's series part (measurement and tags, as written) and what it stands for.
    struct Prefix {
        var raw: [UInt8]
        var builder: Int
        var measurement: String
        /// Tags other than the symbol: string fields of every row of the line.
        var tags: [(name: String, raw: [UInt8], value: String)]
    }

    /// Parses lines into per-series builders. Fast path: a line whose series part was seen
    /// before in this body costs no string making and no name checks; its field keys are
    /// matched by their bytes, in the order of the series' previous line first.
    struct Parser {
        let options: LineProtocolOptions
        /// Series parts seen in this body, and their indexes by hash.
        var prefixes: [Prefix] = []
        var prefixIndex: [UInt64: [Int]] = [:]
        var builders: [SeriesKey: Int] = [:]
        var series: [SeriesBuilder] = []
        var batch = IngestBatch()
        /// Field types fixed in this body or in the store, per measurement.
        var types: [String: [String: FieldType]] = [:]
        // One line's values before they are committed: an existing column, or a new field
        // (-1 - its index in `pending`).
        var values: [(column: Int, value: Value)] = []
        var pending: [(name: String, raw: [UInt8], type: FieldType)] = []

        init(options: LineProtocolOptions) { self.options = options }

        mutating func line(_ line: UnsafeRawBufferPointer, number: Int) {
            var i = 0
            while i < line.count && (line[i] == 32 || line[i] == 9) { i += 1 }
            if i == line.count || line[i] == UInt8(ascii: "#") { return }
            guard line.count <= options.maxLineBytes else {
                return refuse(number, Failure(message: "the line is \(line.count) bytes long; the limit is \(options.maxLineBytes)"))
            }
            do throws(Failure) {
                try parse(line, from: i)
            } catch {
                refuse(number, error)
            }
        }

        mutating func refuse(_ number: Int, _ failure: Failure) {
            batch.badLines += 1
            if batch.issues.count < 100 { batch.issues.append(IngestIssue(line: number, field: failure.field, message: failure.message)) }
        }

        mutating func parse(_ line: UnsafeRawBufferPointer, from start: Int) throws(Failure) {
            let n = line.count
            // The series part ends at the first unescaped space.
            var at = start
            while at < n && line[at] != 32 {
                at += line[at] == 92 && at + 1 < n ? 2 : 1
            }
            let prefixBytes = UnsafeRawBufferPointer(rebasing: line[start..<at])
            guard at < n else {
                // Say what is wrong with the series part first, if anything.
                _ = try resolve(prefixBytes)
                throw Failure(message: "no fields (a space must follow the measurement and tags)")
            }
            let pi = try prefix(prefixBytes)
            let b = prefixes[pi].builder
            let measurement = prefixes[pi].measurement
            while at < n && line[at] == 32 { at += 1 }
            values.removeAll(keepingCapacity: true)
            pending.removeAll(keepingCapacity: true)
            var position = 0
            // The line's other tags first, as string fields, then its fields.
            if !prefixes[pi].tags.isEmpty {
                for tag in prefixes[pi].tags {
                    try tag.raw.withUnsafeBytes { raw in
                        Result { () throws(Failure) in try add(raw, .string(tag.value), builder: b, measurement: measurement, position: position) }
                    }.get()
                    position += 1
                }
            }
            while true {
                let keyStart = at
                while at < n && line[at] != UInt8(ascii: "=") && line[at] != UInt8(ascii: ",") && line[at] != 32 {
                    at += line[at] == 92 && at + 1 < n ? 2 : 1
                }
                let rawKey = UnsafeRawBufferPointer(rebasing: line[keyStart..<at])
                guard !rawKey.isEmpty else { throw Failure(message: "an empty field key") }
                guard at < n && line[at] == UInt8(ascii: "=") else {
                    let name = Self.unescaped(rawKey)
                    throw Failure(message: "field '\(name)' has no '='", field: name)
                }
                at += 1
                let value: Value
                if at < n && line[at] == UInt8(ascii: "\"") {
                    var cursor = Cursor(bytes: line, at: at)
                    value = .string(try cursor.quoted(field: Self.unescaped(rawKey)))
                    at = cursor.at
                } else {
                    let valueStart = at
                    while at < n && line[at] != UInt8(ascii: ",") && line[at] != 32 { at += 1 }
                    value = try Self.value(UnsafeRawBufferPointer(rebasing: line[valueStart..<at]), key: rawKey, allowNonFinite: options.allowNonFinite)
                }
                try add(rawKey, value, builder: b, measurement: measurement, position: position)
                position += 1
                guard at < n && line[at] == UInt8(ascii: ",") else { break }
                at += 1
            }
            var time = options.now
            if at < n && line[at] == 32 {
                while at < n && line[at] == 32 { at += 1 }
                let digitsStart = at
                while at < n && line[at] != 32 && line[at] != 9 { at += 1 }
                let digits = UnsafeRawBufferPointer(rebasing: line[digitsStart..<at])
                if !digits.isEmpty {
                    guard let t = digits.withMemoryRebound(to: UInt8.self, { NumberParsing.int64($0) }) else {
                        throw Failure(message: "the timestamp '\(Self.preview(digits))' is not an integer")
                    }
                    let unit = options.guessesPrecision ? TimeUnit.guess(t) : options.precision
                    let (scaled, overflow) = t.multipliedReportingOverflow(by: unit.nanoseconds)
                    guard !overflow else { throw Failure(message: "the timestamp \(t) in \(unit.rawValue) is out of range (years 1677–2262)") }
                    time = scaled
                }
                while at < n && (line[at] == 32 || line[at] == 9) { at += 1 }
            }
            guard at >= n else {
                throw Failure(message: "unexpected '\(Self.preview(UnsafeRawBufferPointer(rebasing: line[at...])))' after the fields and timestamp")
            }
            commit(builder: b, measurement: measurement, time: time)
        }

        /// Adds one field of the line being read to the scratch values, checking its type.
        mutating func add(_ rawKey: UnsafeRawBufferPointer, _ value: Value, builder b: Int, measurement: String, position: Int) throws(Failure) {
            // Refused as soon as it is too many, so a line of 100,000 keys costs no more than one of 1,024.
            guard position < MeasurementSchema.maxFields else {
                throw Failure(message: "more than \(MeasurementSchema.maxFields) fields in the line (tags other than the symbol count too); a measurement may have at most \(MeasurementSchema.maxFields)")
            }
            if let c = series[b].column(rawKey, position: position) ?? series[b].names.firstIndex(of: Self.unescapedIfEscaped(rawKey)) {
                guard !values.contains(where: { $0.column == c }) else {
                    throw Failure(message: "field '\(series[b].names[c])' appears twice (as a tag or a field)", field: series[b].names[c])
                }
                let type = series[b].columns[c].type
                guard let v = value.converted(to: type) else { throw Self.typeFailure(series[b].names[c], type, value, measurement) }
                values.append((c, v))
                return
            }
            // A field this series has not had in this body.
            let name = Self.unescaped(rawKey)
            guard !pending.contains(where: { $0.name == name }) else {
                throw Failure(message: "field '\(name)' appears twice (as a tag or a field)", field: name)
            }
            do throws(StrataError) {
                try Names.validate(name, what: "field name")
            } catch {
                throw Failure(message: error.message, field: name)
            }
            let type = types[measurement]?[name] ?? options.knownType(measurement, name) ?? value.type
            guard let v = value.converted(to: type) else { throw Self.typeFailure(name, type, value, measurement) }
            if case .string(let s) = v, s.utf8.count > Store.maxStringBytes {
                throw Failure(message: "field '\(name)' is \(s.utf8.count) bytes; the limit is \(Store.maxStringBytes)", field: name)
            }
            pending.append((name, Array(rawKey), type))
            values.append((-pending.count, v))
        }

        /// Appends the line's values as a row of its series.
        mutating func commit(builder b: Int, measurement: String, time: Int64) {
            var created: [Int] = []
            for p in pending {
                created.append(series[b].addColumn(name: p.name, raw: p.raw, type: p.type))
                types[measurement, default: [:]][p.name] = p.type
            }
            let row = series[b].times.count
            series[b].lastOrder.removeAll(keepingCapacity: true)
            for (column, value) in values {
                let c = column >= 0 ? column : created[-column - 1]
                if case .string(let s) = value, s.utf8.count > Store.maxStringBytes { continue }
                series[b].columns[c].append(value)
                series[b].stamp[c] = row
                series[b].lastOrder.append(c)
            }
            for c in series[b].columns.indices where series[b].stamp[c] != row { series[b].columns[c].appendAbsent() }
            series[b].times.append(time)
            batch.rows += 1
        }

        /// The index in `prefixes` of a line's series part, resolved (names checked) once.
        mutating func prefix(_ raw: UnsafeRawBufferPointer) throws(Failure) -> Int {
            let hash = Self.fnv(raw)
            if let candidates = prefixIndex[hash] {
                for i in candidates where SeriesBuilder.equal(prefixes[i].raw, raw) { return i }
            }
            prefixes.append(try resolve(raw))
            prefixIndex[hash, default: []].append(prefixes.count - 1)
            return prefixes.count - 1
        }

        /// Reads a series part: the measurement, the symbol tag, the other tags.
        mutating func resolve(_ raw: UnsafeRawBufferPointer) throws(Failure) -> Prefix {
            var cursor = Cursor(bytes: raw, at: 0)
            let measurement = try cursor.token(until: [UInt8(ascii: ",")], escapable: [UInt8(ascii: ","), 32], what: "measurement")
            guard !measurement.isEmpty else { throw Failure(message: "no measurement") }
            var symbol: String?
            var tags: [(name: String, raw: [UInt8], value: String)] = []
            while cursor.peek == UInt8(ascii: ",") {
                cursor.advance()
                let keyStart = cursor.at
                let key = try cursor.token(until: [UInt8(ascii: "="), UInt8(ascii: ",")], escapable: [UInt8(ascii: ","), UInt8(ascii: "="), 32], what: "tag key")
                let rawKey = Array(raw[keyStart..<cursor.at])
                guard cursor.peek == UInt8(ascii: "=") else { throw Failure(message: "tag '\(key)' has no '='") }
                cursor.advance()
                let value = try cursor.token(until: [UInt8(ascii: ",")], escapable: [UInt8(ascii: ","), UInt8(ascii: "="), 32], what: "tag value")
                guard !key.isEmpty, !value.isEmpty else { throw Failure(message: "an empty tag key or value (tag '\(key)')") }
                if key == options.symbolTag {
                    guard symbol == nil else { throw Failure(message: "the '\(key)' tag appears twice") }
                    symbol = value
                } else {
                    guard !tags.contains(where: { $0.name == key }) else { throw Failure(message: "tag '\(key)' appears twice", field: key) }
                    tags.append((key, rawKey, value))
                }
            }
            guard let symbol else { throw Failure(message: "no '\(options.symbolTag)' tag: it names the series") }
            let key: SeriesKey
            do throws(StrataError) {
                key = try SeriesKey(measurement: measurement, symbol: symbol)
            } catch {
                throw Failure(message: error.message, field: error.field)
            }
            let b: Int
            if let existing = builders[key] {
                b = existing
            } else {
                b = series.count
                builders[key] = b
                series.append(SeriesBuilder(key: key))
            }
            return Prefix(raw: Array(raw), builder: b, measurement: measurement, tags: tags)
        }

        /// A field value that is not a quoted string.
        static func value(_ raw: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, allowNonFinite: Bool) throws(Failure) -> Value {
            guard let first = raw.first, let last = raw.last else {
                let name = unescaped(key)
                throw Failure(message: "field '\(name)' has no value", field: name)
            }
            switch first {
            case UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"):
                switch String(decoding: raw, as: UTF8.self) {
                case "t", "T", "true", "True", "TRUE": return .bool(true)
                case "f", "F", "false", "False", "FALSE": return .bool(false)
                default: break
                }
            default: break
            }
            if last == UInt8(ascii: "i") || last == UInt8(ascii: "u") {
                let digits = UnsafeRawBufferPointer(rebasing: raw.dropLast())
                guard let v = digits.withMemoryRebound(to: UInt8.self, { NumberParsing.int64($0) }), last == UInt8(ascii: "i") || v >= 0 else {
                    let name = unescaped(key)
                    throw Failure(message: "field '\(name)': '\(preview(raw))' is not \(last == UInt8(ascii: "i") ? "an integer (64-bit)" : "an unsigned integer up to 2⁶³−1")", field: name)
                }
                return .int(v)
            }
            switch raw.withMemoryRebound(to: UInt8.self, { NumberParsing.float64($0) }) {
            case .value(let v): return .float(v)
            case .nonFinite(let v):
                let name = unescaped(key)
                guard allowNonFinite else {
                    // No option is named: `strata serve`, this parser's main caller, has none.
                    throw Failure(message: "field '\(name)': '\(preview(raw))' is not a finite number (NaN and infinities are refused)", field: name)
                }
                return .float(v)
            case .invalid:
                let name = unescaped(key)
                throw Failure(message: "field '\(name)': '\(preview(raw))' is not a number, boolean or quoted string", field: name)
            }
        }

        static func typeFailure(_ name: String, _ type: FieldType, _ value: Value, _ measurement: String) -> Failure {
            Failure(message: "field '\(name)' is \(type) in measurement '\(measurement)', not \(value.type)", field: name)
        }

        /// A key with its escapes removed (`\,` `\=` `\ `).
        static func unescaped(_ raw: UnsafeRawBufferPointer) -> String {
            var cursor = Cursor(bytes: raw, at: 0)
            return (try? cursor.token(until: [], escapable: [UInt8(ascii: ","), UInt8(ascii: "="), 32], what: "field key"))
                ?? String(decoding: raw, as: UTF8.self)
        }

        /// `unescaped`, without making a string when there is nothing to unescape.
        static func unescapedIfEscaped(_ raw: UnsafeRawBufferPointer) -> String {
            raw.contains(92) ? unescaped(raw) : String(decoding: raw, as: UTF8.self)
        }

        static func fnv(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in bytes {
                h ^= UInt64(b)
                h &*= 0x100_0000_01b3
            }
            return h
        }

        static func preview(_ bytes: UnsafeRawBufferPointer) -> String {
            let text = String(decoding: bytes.prefix(40), as: UTF8.self)
            return bytes.count > 40 ? text + "…" : text
        }

        mutating func finish(lines: Int) -> IngestBatch {
            batch.series = series.map(\.rows)
            batch.lines = lines
            return batch
        }
    }
}
