import AsyncHTTPClient
import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1

/// Runs a real gateway (real Postgres, real socket on 127.0.0.1) for the duration of `body`.
enum LiveGateway {
    static func run(
        _ configuration: DrawbridgeConfiguration,
        directoryTimeout: Duration = .seconds(5),
        _ body: @Sendable (Browser) async throws -> Void
    ) async throws {
        try await start(configuration, directoryTimeout: directoryTimeout) { browser, _ in try await body(browser) }
    }

    /// As `run`, also handing the test the gateway's dependencies (to register clients, say).
    static func start(
        _ configuration: DrawbridgeConfiguration,
        directoryTimeout: Duration = .seconds(5),
        _ body: @Sendable (Browser, AppDependencies) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test-gateway")
        logger.logLevel = ProcessInfo.processInfo.environment["DRAWBRIDGE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        guard let migrations = Migration.defaultDirectory() else { throw TestSetupError("migrations/ not found") }
        try await DatabaseMigrator(url: configuration.database.url, schema: configuration.database.schema, migrations: Migration.load(from: migrations), logger: logger).migrate()
        let (dependencies, services) = try AppDependencies.live(configuration: configuration, logger: logger, directoryTimeout: directoryTimeout)
        let app = try await buildApplication(dependencies: dependencies, services: services, logger: logger)
        try await app.test(.live) { client in
            guard let port = client.port else { throw TestSetupError("live test server has no port") }
            try await body(Browser(port: port, publicURL: configuration.publicURL), dependencies)
        }
    }
}

/// A minimal browser over AsyncHTTPClient: keeps cookies, never follows redirects (tests look at them).
final class Browser: @unchecked Sendable {
    let port: Int
    let publicURL: PublicURL
    private let lock = NSLock()
    private var jar: [String: String] = [:]

    init(port: Int, publicURL: PublicURL) {
        self.port = port
        self.publicURL = publicURL
    }

    static let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(30))))

    var cookies: [String: String] {
        lock.withLock { jar }
    }

    func setCookie(_ name: String, _ value: String?) {
        lock.withLock { jar[name] = value }
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> WebResponse {
        try await send(.GET, path, body: nil, headers: headers)
    }

    func post(_ path: String, form: [String: String], headers: [(String, String)] = []) async throws -> WebResponse {
        var components = URLComponents()
        components.queryItems = form.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        // URLComponents leaves '+' alone; a form body must encode it.
        let body = (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        return try await send(.POST, path, body: body, headers: headers + [("Content-Type", "application/x-www-form-urlencoded")])
    }

    func send(_ method: HTTPMethod, _ path: String, body: String?, headers: [(String, String)]) async throws -> WebResponse {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let cookieHeader = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        if !cookieHeader.isEmpty { request.headers.add(name: "Cookie", value: cookieHeader) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await Self.http.execute(request, timeout: .seconds(30))
        let bodyBuffer = try await response.body.collect(upTo: 1 << 20)
        let result = WebResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: bodyBuffer))
        for cookie in result.setCookies {
            setCookie(cookie.name, cookie.isExpired ? nil : cookie.value)
        }
        return result
    }

    /// Loads the form, then posts it with the CSRF token the page carries.
    func signIn(username: String, password: String, rd: String? = nil) async throws -> WebResponse {
        let form = try await get("/login" + (rd.map { "?rd=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? ""))
        guard let csrf = form.hiddenField("csrf") else { throw TestSetupError("login page has no csrf field") }
        var fields = ["username": username, "password": password, "csrf": csrf]
        if let rd { fields["rd"] = rd }
        return try await post("/login", form: fields)
    }

    var sessionToken: String? { cookies["drawbridge_session"] }
}

struct WebResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: String

    func header(_ name: String) -> String? { headers.first(name: name) }

    var location: String? { header("Location") }

    struct SetCookie: Sendable {
        var name: String
        var value: String
        /// Attributes, lower-cased names: ["domain": "example.com", "httponly": "", …].
        var attributes: [String: String]
        var isExpired: Bool { attributes["max-age"] == "0" || value.isEmpty }
    }

    var setCookies: [SetCookie] {
        headers["Set-Cookie"].compactMap { line in
            let parts = line.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let first = parts.first, let equals = first.firstIndex(of: "=") else { return nil }
            var attributes: [String: String] = [:]
            for part in parts.dropFirst() {
                let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                attributes[pair[0].lowercased()] = pair.count > 1 ? pair[1] : ""
            }
            return SetCookie(name: String(first[..<equals]), value: String(first[first.index(after: equals)...]), attributes: attributes)
        }
    }

    func setCookie(named name: String) -> SetCookie? { setCookies.first { $0.name == name } }

    func hiddenField(_ name: String) -> String? {
        guard let range = body.range(of: #"name="\#(name)" value="([^"]*)""#, options: .regularExpression) else { return nil }
        let match = body[range]
        guard let valueStart = match.range(of: "value=\"") else { return nil }
        return String(match[valueStart.upperBound...].dropLast())
    }
}
