import Dispatch
import Glibc
import Synchronization

/// The processors this process may run on.
package let processorCount = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

/// `transform` over `items` on up to `workers` threads (every processor by default), each
/// worker taking the next item; results in the items' order. Runs in the caller's thread
/// when there are fewer than `parallelFrom` items or one worker. Once an item fails, the
/// workers take no new items, and the error of the first failed item (in the items' order)
/// is thrown. The one fan-out of the engine's queries, the CLI and S3 multipart uploads.
///
/// Work that computes runs on Dispatch's worker threads. Work that `blocks` (waits on the
/// network) runs on threads of its own, the caller's among them: Dispatch's threads are
/// also the ones Swift concurrency's tasks run on.
package func parallelMap<T: Sendable, R: Sendable, E: Error>(_ items: [T], workers: Int = processorCount, parallelFrom: Int = 2,
                                                            blocks: Bool = false,
                                                            _ transform: @Sendable (T) throws(E) -> R) throws(E) -> [R] {
    let workers = min(workers, items.count)
    if items.count < parallelFrom || workers <= 1 {
        var out: [R] = []
        out.reserveCapacity(items.count)
        for item in items { out.append(try transform(item)) }
        return out
    }
    let results = Mutex<[Result<R, E>?]>(Array(repeating: nil, count: items.count))
    let next = Atomic<Int>(0)
    let failed = Atomic<Bool>(false)
    withoutActuallyEscaping(transform) { transform in
        let work: @Sendable () -> Void = {
            while !failed.load(ordering: .relaxed) {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= items.count { return }
                let r = Result { () throws(E) in try transform(items[i]) }
                if case .failure = r { failed.store(true, ordering: .relaxed) }
                results.withLock { $0[i] = r }
            }
        }
        if blocks {
            let threads = (1..<workers).map { _ in BackgroundThread(name: "strata-blocking", work) }
            work()
            for t in threads { t.join() }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in work() }
        }
    }
    let all = results.withLock { $0 }
    if let failure = all.lazy.compactMap({ r -> E? in if case .failure(let e)? = r { return e } else { return nil } }).first {
        throw failure
    }
    return all.map { r in
        guard case .success(let value)? = r else { preconditionFailure("every item ran") }
        return value
    }
}
