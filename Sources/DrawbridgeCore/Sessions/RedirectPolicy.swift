import Foundation

/// Decides where a browser may be sent after sign-in or sign-out, so `rd` can never be an open redirect.
///
/// Allowed: a path on Drawbridge itself (`/x`, never `//x`), or an absolute URL whose host is the
/// cookie domain or one of its subdomains (or, without a cookie domain, Drawbridge's own host), over
/// https — or over public_url's scheme when that is plain http (a local demo). Everything else falls
/// back to the default page.
public struct RedirectPolicy: Sendable {
    public let publicURL: PublicURL
    public let cookieDomain: String?

    public init(publicURL: PublicURL, cookieDomain: String?) {
        self.publicURL = publicURL
        self.cookieDomain = cookieDomain
    }

    public var defaultTarget: String { publicURL.url("/") }

    /// The URL to redirect to: `candidate` if it is safe, the default page otherwise.
    public func target(for candidate: String?) -> String {
        guard let candidate, let safe = validated(candidate) else { return defaultTarget }
        return safe
    }

    /// The candidate as it may be used, or nil when it is not allowed.
    public func validated(_ candidate: String) -> String? {
        guard Self.isPrintableASCII(candidate, maxLength: 2048) else { return nil }
        if candidate.hasPrefix("/") {
            return Self.isPlainPath(candidate) ? publicURL.origin + candidate : nil
        }
        guard let components = URLComponents(string: candidate),
            let scheme = components.scheme?.lowercased(),
            let host = components.percentEncodedHost?.lowercased(), !host.isEmpty,
            components.percentEncodedUser == nil, components.percentEncodedPassword == nil,
            !host.contains("%")
        else { return nil }
        guard scheme == "https" || scheme == publicURL.scheme else { return nil }
        guard isInside(host) else { return nil }
        return candidate
    }

    /// A path (`/x`) and nothing that leaves the site: `//host` and `/\host` are network-path references
    /// browsers follow off-site, and control characters or spaces could split a header or a URL.
    public static func isPlainPath(_ candidate: String, maxLength: Int = 2048) -> Bool {
        isPrintableASCII(candidate, maxLength: maxLength) && candidate.hasPrefix("/") && !candidate.hasPrefix("//")
    }

    static func isPrintableASCII(_ candidate: String, maxLength: Int) -> Bool {
        !candidate.isEmpty && candidate.utf8.count <= maxLength
            && candidate.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value != 0x7f && $0 != "\\" }
    }

    private func isInside(_ host: String) -> Bool {
        guard let domain = cookieDomain else { return host == publicURL.host }
        return host == domain || host.hasSuffix("." + domain)
    }
}
