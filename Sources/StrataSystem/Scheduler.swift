import Glibc
import StrataArchive
import StrataEngine
import StrataPlatform

/// The server's scheduled work: each job runs on its schedule (every interval, the first
/// time one interval after start; or daily at a time of day) on a background thread, one
/// job at a time, and records its last run.
public final class Scheduler: @unchecked Sendable {
    public struct Job: Sendable {
        public var name: String
        public var schedule: JobSchedule
        /// Does the work; returns a one-line summary.
        public var work: @Sendable () throws(StrataError) -> String

        public init(name: String, schedule: JobSchedule, work: @escaping @Sendable () throws(StrataError) -> String) {
            self.name = name
            self.schedule = schedule
            self.work = work
        }
    }

    /// A job's runs so far.
    public struct Record: Sendable {
        public var runs = 0
        public var failures = 0
        public var lastStart: Int64?
        public var lastSeconds: Double?
        public var lastSuccess: Int64?
        public var lastSummary: String?
        public var lastFailure: Int64?
        public var lastError: String?
    }

    public let jobs: [Job]
    private let monitor = Monitor()
    private var records: [String: Record] = [:]
    private let worker = ServiceThread(name: "strata-scheduler")

    public init(jobs: [Job]) { self.jobs = jobs }

    public var state: [(job: Job, record: Record)] { monitor.withLock { jobs.map { ($0, records[$0.name] ?? Record()) } } }

    public func start() {
        guard !jobs.isEmpty else { return }
        worker.start { [self] in run() }
    }

    /// Stops after the job in progress, if any.
    public func stop() { worker.stop() }

    private func run() {
        BackgroundThread.setCurrentNiceness(5)
        func next(_ job: Job) -> Int64 { monotonicNanoseconds() + Int64(job.schedule.delay(from: CivilTime.now()) * 1e9) }
        var due = jobs.map(next)
        while true {
            let now = monotonicNanoseconds()
            if let i = due.indices.min(by: { due[$0] < due[$1] }), due[i] <= now {
                execute(jobs[i])
                due[i] = next(jobs[i])
                continue
            }
            let wait = max(1_000_000, (due.min() ?? now + 1_000_000_000) - now)
            if !worker.pause(nanoseconds: wait) { return }
        }
    }

    private func execute(_ job: Job) {
        let started = CivilTime.now()
        let clock = monotonicNanoseconds()
        let outcome = Result { () throws(StrataError) in try job.work() }
        let seconds = Double(monotonicNanoseconds() - clock) / 1e9
        monitor.withLock {
            var r = records[job.name] ?? Record()
            r.runs += 1
            r.lastStart = started
            r.lastSeconds = seconds
            switch outcome {
            case .success(let summary):
                r.lastSuccess = started
                r.lastSummary = summary
            case .failure(let error):
                r.failures += 1
                r.lastFailure = started
                r.lastError = error.description
            }
            records[job.name] = r
        }
    }

    /// The tier policy (compaction, archiving) as a job.
    public static func tiering(_ policy: TierPolicy, database: Database, archive: Archive?, every schedule: JobSchedule) -> Job {
        Job(name: "tier", schedule: schedule) { () throws(StrataError) -> String in
            let s = try policy.apply(to: database, archive: archive)
            return "\(s.compacted.seriesDays) series-days compacted, \(s.archived?.seriesDays ?? 0) archived"
        }
    }

    /// An incremental backup as a job.
    public static func backup(_ backups: Backups, database: Database, every schedule: JobSchedule) -> Job {
        Job(name: "backup", schedule: schedule) { () throws(StrataError) -> String in
            let s = try backups.create(database)
            return "backup \(s.catalog.id): \(s.catalog.rows) rows, \(s.uploaded) objects uploaded"
        }
    }

    /// A data-quality scan of every series as a job.
    public static func quality(_ monitor: QualityMonitor, every schedule: JobSchedule) -> Job {
        Job(name: "quality", schedule: schedule) { () throws(StrataError) -> String in
            let q = try monitor.scan()
            return "\(q.series) series, \(q.rows) rows scanned: \(q.totals.values.reduce(0, +)) findings in \(q.seriesWithIssues) series"
        }
    }

    /// A step of auto-tuning as a job.
    public static func tuning(_ tuner: AutoTuner, every schedule: JobSchedule) -> Job {
        Job(name: "tune", schedule: schedule) { () throws(StrataError) -> String in
            let changes = tuner.tune()
            return changes.isEmpty ? "no change" : changes.map(\.description).joined(separator: "; ")
        }
    }
}
