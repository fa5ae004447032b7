import StrataArchive
import StrataPlatform

/// A running `strata serve`'s status page, read over HTTP (`strata status`).
public enum RemoteStatus {
    /// The JSON of `GET <url>/status`; `apiKey` (an admin key) when the server wants one. A
    /// refusal or an error page is thrown with what the server said.
    public static func fetch(_ url: String, apiKey: String?) throws(StrataError) -> String {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let (status, body) = try HTTPGet.fetch(base + "/status", headers: apiKey.map { [("Authorization", "Bearer \($0)")] } ?? [])
        let text = String(decoding: body, as: UTF8.self)
        guard status == 200 else {
            throw StrataError(status == 401 || status == 403 ? .denied : .io, "\(base)/status answered \(status): \(text.prefix(300))")
        }
        return text
    }
}
