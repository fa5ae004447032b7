import CZstd

/// zstd compression of whole buffers (one frame each): cold objects' blocks and the pages
/// of pack manifests.
public enum Zstd {
    /// Level 3 (zstd's default) keeps tiering fast; cold blocks are already encoded
    /// columns, so higher levels gain little.
    public static let level: Int32 = 3

    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = Zstd.level) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = out.withUnsafeMutableBytes { dst in
            ZSTD_compress(dst.baseAddress, bound, input.baseAddress, input.count, level)
        }
        precondition(ZSTD_isError(n) == 0, "zstd compression failed: \(String(cString: ZSTD_getErrorName(n)))")
        out.removeLast(bound - n)
        return out
    }

    /// Decompresses a frame that must hold exactly `size` bytes. The frame header's content
    /// size is checked first, so a damaged or hostile length never allocates.
    public static func decompress(_ input: UnsafeRawBufferPointer, size: Int) throws(FormatError) -> [UInt8] {
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        guard declared == UInt64(size) else {
            // Also ZSTD_CONTENTSIZE_UNKNOWN and _ERROR, which are the largest u64 values.
            throw FormatError(.malformed, "zstd frame header declares \(declared >= UInt64.max - 1 ? "no valid size" : "\(declared) bytes"), the index says \(size)", offset: 0)
        }
        var out = [UInt8](repeating: 0, count: size)
        let n = out.withUnsafeMutableBytes { dst in
            ZSTD_decompress(dst.baseAddress, size, input.baseAddress, input.count)
        }
        if ZSTD_isError(n) != 0 {
            throw FormatError(.malformed, "zstd: \(String(cString: ZSTD_getErrorName(n)))", offset: 0)
        }
        guard n == size else { throw FormatError(.malformed, "zstd frame holds \(n) bytes, the index says \(size)", offset: 0) }
        return out
    }
}
