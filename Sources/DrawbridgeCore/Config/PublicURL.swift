import Foundation

/// How browsers and OAuth clients reach Drawbridge (the issuer); every URL Drawbridge hands out is built from it.
public struct PublicURL: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int?
    /// A path prefix such as `/sso` when the proxy mounts Drawbridge below the root; empty or starting with `/`, no trailing `/`.
    public var pathPrefix: String

    public init(parsing text: String) throws(ConfigurationError) {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = components.host?.lowercased(), !host.isEmpty
        else {
            throw ConfigurationError("must be an absolute http(s) URL such as https://sso.example.com")
        }
        guard components.query == nil, components.fragment == nil, components.user == nil else {
            throw ConfigurationError("must not have a query, fragment or credentials")
        }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        self.pathPrefix = path
    }

    public var isHTTPS: Bool { scheme == "https" }

    /// The origin, e.g. `https://sso.example.com` (port only when not the scheme's default).
    public var origin: String {
        let defaultPort = isHTTPS ? 443 : 80
        let portPart = port.map { $0 == defaultPort ? "" : ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(portPart)"
    }

    /// The absolute URL of a Drawbridge path (`/login` → `https://sso.example.com/sso/login`).
    public func url(_ path: String) -> String {
        origin + pathPrefix + (path.hasPrefix("/") ? path : "/" + path)
    }

    /// The path as the browser sees it, for links and form actions inside pages.
    public func path(_ path: String) -> String {
        pathPrefix + (path.hasPrefix("/") ? path : "/" + path)
    }

    public var description: String { origin + pathPrefix }
}
