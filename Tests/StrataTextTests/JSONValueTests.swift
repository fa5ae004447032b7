import StrataEngine
import StrataPlatform
import StrataText
import Testing

@Suite struct JSONValueTests {
    @Test func valuesParseWithTheirLines() throws {
        let v = try JSONValue.parse("""
            {"a": 1,
             "b": [true, false, null, -0.5e3, "x\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"],
             "c": {"d": 12345678901234567}}
            """)
        #expect(v["a"]?.int64 == 1 && v["a"]?.line == 1)
        guard case .array(let b)? = v["b"]?.kind else { Issue.record("b is not an array"); return }
        #expect(b.map(\.kind) == [.bool(true), .bool(false), .null, .number("-0.5e3"), .string("x\"\\/\u{8}\u{c}\n\r\té😀")])
        #expect(b[3].double == -500 && b[3].int64 == nil && v["b"]?.line == 2)
        #expect(v["c"]?["d"]?.int64 == 12_345_678_901_234_567 && v["c"]?.line == 3)
        #expect(try JSONValue.parse("\u{FEFF}[]").kind == .array([]))
    }

    @Test(arguments: [
        ("", 1, "ends where a value was expected"),
        ("{\"a\" 1}", 1, "expected ':'"),
        ("{\"a\": 1,}", 1, "expected a \"key\""),
        ("[1 2]", 1, "expected ',' or ']'"),
        ("{\"a\": 1, \"a\": 2}", 1, "appears twice"),
        ("\n01", 2, "does not start with 0"),
        ("1.", 1, "digits after '.'"),
        ("-", 1, "digits after '-'"),
        ("\"a\nb\"", 1, "missing '\"'"),
        ("\"\\x\"", 1, "unknown escape"),
        ("\"\\ud83d\"", 1, "low surrogate"),
        ("tru", 1, "unexpected 't'"),
        ("[] []", 1, "after the document's end"),
        (String(repeating: "[", count: 65), 1, "nested deeper than 64"),
    ])
    func malformedDocumentsAreNamedWithTheirLine(text: String, line: Int, message: String) {
        #expect { try JSONValue.parse(text, source: "body") } throws: {
            let e = $0 as! StrataError
            return e.line == line && e.path == "body" && e.message.contains(message)
        }
    }

    @Test func invalidUTF8InAStringIsRefused() {
        #expect(throws: StrataError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
    }
}
