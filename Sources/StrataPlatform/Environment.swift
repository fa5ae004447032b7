import Glibc

/// The process's environment, read where settings are resolved (the configuration, the
/// archive's location, the services' URLs). One place, so that "set but empty" means the
/// same everywhere.
public enum Environment {
    /// The variable `name` as it is set, empty or not; nil when it is not set.
    public static func variable(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The variable `name` when it is set to something (set but empty counts as not set,
    /// as a shell's `X= strata …` means).
    public static func setting(_ name: String) -> String? {
        variable(name).flatMap { $0.isEmpty ? nil : $0 }
    }
}
