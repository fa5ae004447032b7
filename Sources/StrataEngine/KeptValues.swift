import Synchronization

/// Values kept by key for reuse — opened files, decoded headers — the least recently used
/// dropped beyond `capacity`. The caller says whether a kept value still stands (the file at
/// its path is the one it came from).
final class KeptValues<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var used: UInt64
    }
    private let state = Mutex<(entries: [Key: Entry], clock: UInt64)>(([:], 0))
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The value kept for `key` if `stands` says it still holds.
    func value(_ key: Key, if stands: (Value) -> Bool) -> Value? {
        state.withLock { s in
            guard let e = s.entries[key], stands(e.value) else { return nil }
            s.clock += 1
            s.entries[key]!.used = s.clock
            return e.value
        }
    }

    func keep(_ value: Value, for key: Key) {
        state.withLock { s in
            s.clock += 1
            s.entries[key] = Entry(value: value, used: s.clock)
            if s.entries.count > capacity, let oldest = s.entries.min(by: { $0.value.used < $1.value.used })?.key {
                s.entries[oldest] = nil
            }
        }
    }

    func forget(_ key: Key) {
        _ = state.withLock { $0.entries.removeValue(forKey: key) }
    }
}
