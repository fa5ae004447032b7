/// Strata's release: `strata --version`, the server's /health and its
/// `X-Influxdb-Version` header say it.
public enum StrataVersion {
    public static let number = "0.14.0"
}
