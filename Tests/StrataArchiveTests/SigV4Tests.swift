import StrataArchive
import Testing

@Suite struct SigV4Tests {
    /// AWS's published example ("GET Object", Signature Version 4 for S3): the signature
    /// for bytes 0–9 of examplebucket/test.txt on 2013-05-24.
    @Test func awsExampleGetObject() {
        let signer = SigV4(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let headers = signer.sign(method: "GET", path: "/test.txt", query: [],
                                  headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                                  payloadHash: SigV4.emptyPayloadHash, amzDate: "20130524T000000Z")
        let authorization = headers.first { $0.0 == "Authorization" }!.1
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    /// AWS's "GET Bucket Lifecycle" example: a query parameter with an empty value.
    @Test func awsExampleGetBucketLifecycle() {
        let signer = SigV4(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let headers = signer.sign(method: "GET", path: "/", query: [("lifecycle", "")],
                                  headers: [("Host", "examplebucket.s3.amazonaws.com")],
                                  payloadHash: SigV4.emptyPayloadHash, amzDate: "20130524T000000Z")
        let authorization = headers.first { $0.0 == "Authorization" }!.1
        #expect(authorization.hasSuffix("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
    }

    /// AWS's "GET Bucket (List Objects)" example: parameters are sorted and encoded.
    @Test func awsExampleListObjects() {
        let signer = SigV4(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let headers = signer.sign(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
                                  headers: [("Host", "examplebucket.s3.amazonaws.com")],
                                  payloadHash: SigV4.emptyPayloadHash, amzDate: "20130524T000000Z")
        let authorization = headers.first { $0.0 == "Authorization" }!.1
        #expect(authorization.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
        #expect(SigV4.canonicalQuery([("prefix", "J"), ("max-keys", "2")]) == "max-keys=2&prefix=J")
        #expect(SigV4.canonicalQuery([("continuation-token", "a/b c+d=")]) == "continuation-token=a%2Fb%20c%2Bd%3D")
        #expect(SigV4.encode("trade/BTC USD/ü", slash: false) == "trade/BTC%20USD/%C3%BC")
    }
}
