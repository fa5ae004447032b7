import StrataArchive
import StrataEngine
import StrataMirror
import StrataPlatform

extension StrataConfiguration {
    /// What is wrong with the services' settings, as the commands that use them would find
    /// it: Redis's URL, the mirror's connection string and bars, the archive a command would
    /// open, the encryption keys (and who may read their file). Each problem names the
    /// variable or the file's key; `strata validate-config` lists them.
    public func serviceProblems() -> [String] {
        var problems: [String] = []
        let variable = { (name: String) in self.variable(name) }
        func check(_ what: String, _ body: () throws(StrataError) -> Void) {
            do throws(StrataError) { try body() } catch { problems.append("\(what): \(error.message)") }
        }
        check("REDIS_URL / cache.url") { () throws(StrataError) in _ = try cache() }
        if let dsn = Environment.setting("TIMESCALE_DSN") {
            check("TIMESCALE_DSN / mirror.dsn") { () throws(StrataError) in try PostgresConnection.checkConnectionString(dsn) }
        }
        if let bars = Environment.setting("STRATA_MIRROR_BARS") {
            check("STRATA_MIRROR_BARS") { () throws(StrataError) in _ = try Self.parseBars(bars) }
        }
        // The archive a command would open, in openArchive's order: STRATA_ARCHIVE, else
        // the S3_* variables when S3_BUCKET is set, else the file's archive.url.
        if let url = Environment.setting("STRATA_ARCHIVE") {
            do throws(StrataError) {
                _ = try Self.checkArchiveURL(url)
                problems += s3Problems(url, variable)
            } catch {
                problems.append("STRATA_ARCHIVE / archive.url: \(error.message)")
            }
        } else if Environment.setting("S3_BUCKET") != nil {
            check("S3_* / archive") { () throws(StrataError) in _ = try S3Configuration.fromEnvironment(variable) }
        } else if let url = archiveSettings["STRATA_ARCHIVE"] {
            problems += s3Problems(url, variable)
        }
        check("STRATA_ENCRYPTION_KEY* / encryption.key_file") { () throws(StrataError) in _ = try Keyring.fromEnvironment(variable) }
        if let keyFile = variable("STRATA_ENCRYPTION_KEY_FILE"), FileSystem.isReadableByOthers(keyFile) {
            problems.append("STRATA_ENCRYPTION_KEY_FILE / encryption.key_file: \(keyFile) holds encryption keys and every user may read it; chmod 600 it")
        }
        return problems
    }

    /// An S3 archive URL with what opening it needs from the other settings (credentials,
    /// endpoint); a directory needs nothing more.
    private func s3Problems(_ url: String, _ variable: (String) -> String?) -> [String] {
        guard url.hasPrefix("s3://") else { return [] }
        do throws(StrataError) {
            return try Self.s3Configuration(url, variable) == nil ? ["archive \(url): S3_ACCESS_KEY and S3_SECRET_KEY are needed"] : []
        } catch {
            return ["archive \(url): \(error.message)"]
        }
    }
}
