import Crypto
import StrataEngine
import StrataPlatform

extension S3ObjectStore {
    /// Uploads `bytes` as a multipart upload: parts of `partSize`, `parallelParts` at a
    /// time, each with its Content-MD5; the upload is completed only when every part is
    /// in, and aborted (so no parts are left behind in the bucket) if any part fails.
    func putMultipart(_ key: String, _ bytes: [UInt8]) throws(StrataError) {
        let created = try send(Request(method: "POST", key: key, query: [("uploads", "")],
                                       headers: [("Content-Type", "application/octet-stream")]))
        guard let uploadID = XMLText.value("UploadId", in: Substring(String(decoding: created.body, as: UTF8.self))) else {
            throw StrataError(.io, "POST s3://\(configuration.bucket)/\(configuration.prefix)\(key)?uploads: the answer has no UploadId")
        }
        do throws(StrataError) {
            let etags = try uploadParts(key, uploadID, bytes)
            var body = "<CompleteMultipartUpload>"
            for (i, etag) in etags.enumerated() {
                body += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\"\(XMLText.escape(etag))\"</ETag></Part>"
            }
            body += "</CompleteMultipartUpload>"
            let done: HTTPResponse
            do {
                done = try send(Request(method: "POST", key: key, query: [("uploadId", uploadID)],
                                        headers: [("Content-Type", "application/xml")], body: Array(body.utf8)))
            } catch where error.code == .notFound {
                // A retried Complete whose first try succeeded (its answer was lost) finds
                // the upload gone: then the object is there, with the full size.
                if let info = try head(key), info.size == bytes.count { return }
                throw error
            }
            // S3 may answer 200 with an error document when completing fails late.
            let text = Substring(String(decoding: done.body, as: UTF8.self))
            if let code = XMLText.value("Code", in: text), XMLText.elements("Error", in: text).count > 0 {
                throw StrataError(.io, "completing the upload of s3://\(configuration.bucket)/\(configuration.prefix)\(key): \(code)")
            }
        } catch {
            _ = try? send(Request(method: "DELETE", key: key, query: [("uploadId", uploadID)]), accept: [200, 204, 404])
            throw error
        }
    }

    /// Uploads the parts, `parallelParts` at a time; returns their ETags in order.
    private func uploadParts(_ key: String, _ uploadID: String, _ bytes: [UInt8]) throws(StrataError) -> [String] {
        let size = configuration.partSize
        let count = (bytes.count + size - 1) / size
        let store = self
        return try parallelMap(Array(0..<count), workers: configuration.parallelParts, blocks: true) { (part) throws(StrataError) -> String in
            let slice = Array(bytes[(part * size)..<min((part + 1) * size, bytes.count)])
            let md5 = Array(Insecure.MD5.hash(data: slice))
            let response = try store.send(Request(method: "PUT", key: key,
                                                  query: [("partNumber", String(part + 1)), ("uploadId", uploadID)],
                                                  headers: [("Content-MD5", Base64.encode(md5))], body: slice))
            return response.header("ETag").map(S3ObjectStore.unquoted) ?? SigV4.hex(md5)
        }
    }
}
