import StrataFormat
import StrataPlatform

extension StrataError {
    /// Wraps a format error found while reading `path`.
    public static func corrupt(_ error: FormatError, path: String, block: Int? = nil) -> StrataError {
        var e = StrataError(.corrupt, error.message, path: path, offset: error.offset)
        e.block = block
        return e
    }
}
