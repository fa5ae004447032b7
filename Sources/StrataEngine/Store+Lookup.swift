import StrataPlatform

/// Series asked for by name, as readers (`strata query`, `strata quality`, the query API)
/// take them: each checked to exist, so that a typo is an error rather than an empty result.
extension Store {
    /// The series of `symbols` in `measurement` (every symbol it has when nil), in the
    /// order given. `alsoPresent` are series that exist beyond the directories (a live
    /// database's unflushed rows). Names that cannot be names are `invalidInput`; a
    /// measurement or symbol the store does not have is `notFound`, with `field` saying
    /// which and `path` the store.
    public func existingSeries(measurement: String, symbols: [String]?, alsoPresent: [SeriesKey] = []) throws(StrataError) -> [SeriesKey] {
        try Names.validate(measurement, what: "measurement")
        let named = try (symbols ?? []).map { s throws(StrataError) in try SeriesKey(measurement: measurement, symbol: s) }
        let elsewhere = Set(alsoPresent.filter { $0.measurement == measurement }.map(\.symbol))
        // One stat per name asked for, not a listing: a query of one symbol among
        // thousands stays as cheap as the query.
        let onDisk = FileSystem.isDirectory(measurementPath(measurement))
        guard onDisk || !elsewhere.isEmpty else {
            throw StrataError(.notFound, "no measurement '\(measurement)'", path: directory, field: "measurement")
        }
        guard symbols != nil else {
            let known = Set(onDisk ? try self.symbols(measurement) : []).union(elsewhere)
            return try known.sorted().map { s throws(StrataError) in try SeriesKey(measurement: measurement, symbol: s) }
        }
        var missing: SeriesKey?
        for s in named where !elsewhere.contains(s.symbol) {
            if try !hasSeries(s) { missing = s; break }
        }
        if let missing {
            throw StrataError(.notFound, "measurement '\(measurement)' has no symbol '\(missing.symbol)'", path: directory, field: "symbol")
        }
        return named
    }
}

extension Store {
    /// Whether `series` has data on disk: its directory, or (packed) an entry in a partition.
    func hasSeries(_ series: SeriesKey) throws(StrataError) -> Bool {
        if try layout(of: series.measurement) == .packed {
            // The newest partitions first (a symbol asked for is most often a recent one),
            // stopping at the first that holds it.
            for day in try packedPartitions(series.measurement).reversed() where try packHolds(series, day) { return true }
            return false
        }
        return FileSystem.isDirectory(seriesPath(series))
    }
}

extension Database {
    /// `Store.existingSeries` counting the series that so far have only unflushed rows.
    public func existingSeries(measurement: String, symbols: [String]?) throws(StrataError) -> [SeriesKey] {
        // Memory first: a series flushed in between is on disk by the time the disk is
        // listed (a flush drops its rows from memory only after its manifests switch).
        let inMemory = seriesInMemory()
        return try store.existingSeries(measurement: measurement, symbols: symbols, alsoPresent: inMemory)
    }
}
