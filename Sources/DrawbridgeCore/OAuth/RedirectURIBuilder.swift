/// Appends OAuth response parameters to a registered redirect URI.
///
/// Values are percent-encoded except for RFC 3986 unreserved characters, so `+`, `/` and `=` in
/// Mattermost's base64 `state` come back byte-exact (`URLComponents` would leave `+`, which Go reads as a space).
/// A query the registered URI already has is kept.
public enum RedirectURIBuilder {
    public static func build(_ redirectURI: String, parameters: [(String, String?)], inFragment: Bool = false) -> String {
        let encoded = parameters.compactMap { name, value in value.map { "\(percentEncode(name))=\(percentEncode($0))" } }.joined(separator: "&")
        guard !encoded.isEmpty else { return redirectURI }
        if inFragment { return redirectURI + "#" + encoded }
        return redirectURI + (redirectURI.contains("?") ? "&" : "?") + encoded
    }

    public static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || [0x2d, 0x2e, 0x5f, 0x7e].contains(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return result
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
