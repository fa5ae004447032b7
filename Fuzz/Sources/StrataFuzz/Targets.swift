/// A fuzz target: a reader of untrusted bytes and what must hold for every input.
///
/// Every target asserts that nothing traps (AddressSanitizer also stops on a bad memory
/// access), and then what its reader promises:
///
/// | target | reader | properties |
/// | --- | --- | --- |
/// | lineprotocol | `LineProtocol.parse` | every line is a row, a skipped line or a refused one; rows have valid names and survive a WAL record encode/decode bit for bit |
/// | json | `JSONRecords.parse` | as lineprotocol, per record |
/// | csv | `CSVScanner`, `CSVIngester` | the scanner's fields lie in the input and it always moves on; rows read = rows written + bad rows; rows survive a WAL record |
/// | time | `CivilTime.parse`, `parseInstant`, `parseRangeEnd` | a parsed time formats to text that parses to the same time; every Int64 formats and parses back |
/// | segment | `SegmentReader` | blocks decode or throw; decoded rows re-encode to a segment that decodes to the same rows; a flipped byte or a cut of a valid segment is an error |
/// | manifest | `DayManifest.decode` | a decoded manifest re-encodes to bytes that decode to an equal value (the same bytes, but for non-shortest varints, which readers accept); a flipped byte or a cut is an error |
/// | packmanifest | `PackManifest.View`, `PackManifest.decode` | lookups never trap; every decoded entry is found by its symbol; a decoded manifest re-encodes to bytes that decode to an equal value; a flipped byte or a cut is an error |
/// | schema | `MeasurementSchema.decode`, `ChecksummedText` | a decoded schema re-encodes to the same bytes (one spelling per schema); a flipped byte is an error |
/// | wal | `WALLayout.scan`, `WALRecord.decode` | records re-encode to equal records; the cheap row count agrees; a cut file is a torn tail, never damage; a flipped byte stops the scan before the record |
/// | cold | `ColdObject.segmentBytes`, `ColdReader` | what the whole object gives back opens and passes its checksums, and `ColdReader` reads the same footer and rows; a valid segment archived, plain or encrypted, comes back byte for byte, and a flipped byte or a cut of the object is an error |
///
/// Checksummed formats are read twice when the input's checksums are wrong: as given, and
/// with its checksums recomputed (`Repair`), so the fuzzer also reaches the structure
/// behind them.
struct FuzzTarget: Sendable {
    let name: String
    /// Called once before fuzzing.
    let prepare: @Sendable () -> Void
    let run: @Sendable (UnsafeRawBufferPointer) -> Void
    /// The seed corpus: file names and contents, made by Strata's own encoders or written
    /// by hand (a few KB each at most).
    let seeds: @Sendable () -> [(String, [UInt8])]

    init(_ name: String, prepare: @escaping @Sendable () -> Void = {}, run: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
         seeds: @escaping @Sendable () -> [(String, [UInt8])]) {
        self.name = name
        self.prepare = prepare
        self.run = run
        self.seeds = seeds
    }

    static let all: [FuzzTarget] = [
        FuzzTarget("lineprotocol", run: LineProtocolTarget.run, seeds: LineProtocolTarget.seeds),
        FuzzTarget("json", run: JSONTarget.run, seeds: JSONTarget.seeds),
        FuzzTarget("csv", prepare: CSVTarget.prepare, run: CSVTarget.run, seeds: CSVTarget.seeds),
        FuzzTarget("time", run: TimeTarget.run, seeds: TimeTarget.seeds),
        FuzzTarget("segment", run: SegmentTarget.run, seeds: SegmentTarget.seeds),
        FuzzTarget("manifest", run: ManifestTarget.run, seeds: ManifestTarget.seeds),
        FuzzTarget("packmanifest", run: PackManifestTarget.run, seeds: PackManifestTarget.seeds),
        FuzzTarget("schema", run: SchemaTarget.run, seeds: SchemaTarget.seeds),
        FuzzTarget("wal", run: WALTarget.run, seeds: WALTarget.seeds),
        FuzzTarget("cold", run: ColdTarget.run, seeds: ColdTarget.seeds),
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    /// The target being fuzzed (set once, before libFuzzer starts).
    nonisolated(unsafe) static var selected: FuzzTarget?
}

/// libFuzzer's own main (linked by -sanitize=fuzzer) refers to this symbol, so it must
/// exist; main.swift hands libFuzzer the same callback through LLVMFuzzerRunDriver.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.selected?.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
