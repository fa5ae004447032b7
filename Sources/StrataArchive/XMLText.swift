/// Just enough XML for S3's responses (ListObjectsV2, errors, multipart): the text of
/// elements by name, with entities decoded. S3 sends no CDATA, comments or attributes in
/// the elements read here.
enum XMLText {
    /// The contents of every `<tag>…</tag>` in `text`, in order.
    static func elements(_ tag: String, in text: Substring) -> [Substring] {
        var out: [Substring] = []
        let open = "<\(tag)>", close = "</\(tag)>"
        var rest = text
        while let start = rest.range(of: open) {
            let after = rest[start.upperBound...]
            guard let end = after.range(of: close) else { break }
            out.append(after[..<end.lowerBound])
            rest = after[end.upperBound...]
        }
        return out
    }

    /// The decoded text of the first `<tag>`, or nil.
    static func value(_ tag: String, in text: Substring) -> String? {
        elements(tag, in: text).first.map(decode)
    }

    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "&", let semi = text[i...].firstIndex(of: ";") {
                let entity = text[text.index(after: i)..<semi]
                var replacement: String?
                switch entity {
                case "amp": replacement = "&"
                case "lt": replacement = "<"
                case "gt": replacement = ">"
                case "quot": replacement = "\""
                case "apos": replacement = "'"
                default:
                    if entity.hasPrefix("#x"), let v = UInt32(entity.dropFirst(2), radix: 16), let s = Unicode.Scalar(v) {
                        replacement = String(Character(s))
                    } else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()), let s = Unicode.Scalar(v) {
                        replacement = String(Character(s))
                    }
                }
                if let replacement {
                    out += replacement
                    i = text.index(after: semi)
                    continue
                }
            }
            out.append(text[i])
            i = text.index(after: i)
        }
        return out
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        let n = Array(needle.utf8)
        let hay = self.utf8
        guard !n.isEmpty, hay.count >= n.count else { return nil }
        var i = hay.startIndex
        while let first = hay[i...].firstIndex(of: n[0]) {
            var j = first, k = 0
            while k < n.count, j < hay.endIndex, hay[j] == n[k] {
                j = hay.index(after: j)
                k += 1
            }
            if k == n.count { return first..<j }
            i = hay.index(after: first)
        }
        return nil
    }
}
