import CZlib
import StrataEngine
import StrataPlatform

/// gzip request bodies (Telegraf and the Influx clients send them).
enum Gzip {
    /// Decompresses `bytes` (one or more gzip members); refuses output beyond `limit` bytes
    /// (a small body may inflate enormously) and anything that is not gzip.
    static func decompress(_ bytes: UnsafeRawBufferPointer, limit: Int) throws(StrataError) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        var out: [UInt8] = []
        var stream = z_stream()
        guard strata_inflate_init_gzip(&stream) == Z_OK else { throw StrataError(.io, "cannot start zlib") }
        defer { inflateEnd(&stream) }
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(bytes.count)
        while true {
            let status = chunk.withUnsafeMutableBytes { buffer -> Int32 in
                stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(buffer.count)
                return inflate(&stream, Z_NO_FLUSH)
            }
            let produced = chunk.count - Int(stream.avail_out)
            guard out.count + produced <= limit else {
                throw StrataError(.tooLarge, "the gzip body inflates to more than \(limit) bytes, the limit")
            }
            out.append(contentsOf: chunk[..<produced])
            switch status {
            case Z_STREAM_END:
                // Another member may follow (concatenated gzip files).
                guard stream.avail_in > 0 else { return out }
                guard inflateReset(&stream) == Z_OK else { throw StrataError(.invalidInput, "the body is not valid gzip (a member after the first is damaged)") }
            case Z_OK:
                if stream.avail_in == 0 && produced == 0 {
                    throw StrataError(.invalidInput, "the gzip body is truncated")
                }
            case Z_BUF_ERROR:
                throw StrataError(.invalidInput, "the gzip body is truncated")
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw StrataError(.invalidInput, "the body is not valid gzip: \(reason)")
            }
        }
    }
}
