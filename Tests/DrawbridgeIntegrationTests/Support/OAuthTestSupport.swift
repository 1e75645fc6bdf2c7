import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// Registers clients and speaks OAuth the way tests need to: raw requests, redirects not followed.
enum OAuthTestSupport {
    static let chatRedirect = "https://chat.example.com/signup/gitlab/complete"

    /// Registers a client straight in the store; returns its secret (nil for public clients).
    @discardableResult
    static func register(
        _ dependencies: AppDependencies, id: String, redirectURIs: [String] = [chatRedirect], trusted: Bool = true, isPublic: Bool = false,
        grants: Set<OAuthClient.GrantType> = [.authorizationCode, .refreshToken]
    ) async throws -> String? {
        let secret = isPublic ? nil : ClientSecret.newSecret()
        try await dependencies.oauth.clients.insert(OAuthClient(
            clientID: id, name: "Test \(id)", secretHash: secret.map(ClientSecret.hash), redirectURIs: redirectURIs,
            grantTypes: grants, isTrusted: trusted, isPublic: isPublic
        ))
        return secret
    }

    /// Go's `url.QueryEscape` (space → `+`), which Mattermost uses to build its authorize URL.
    static func goQueryEscape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "): out += "+"
            default: out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Go's `url.Query().Get`: the first value, `+` decoded as a space.
    static func goQueryGet(_ url: String, _ name: String) -> String? {
        guard let query = url.split(separator: "?", maxSplits: 1).dropFirst().first?.split(separator: "#").first else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            if key == name { return parts.count > 1 ? parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding : "" }
        }
        return nil
    }

    /// Signs in on the form `/oauth/authorize` shows, then asks again: the answer is the redirect (or consent page).
    static func signInAndAuthorize(_ browser: Browser, path: String, username: String, password: String) async throws -> WebResponse {
        let form = try await browser.get(path)
        #expect(form.status == 200, "the sign-in form is shown at the authorize URL itself")
        let csrf = try #require(form.hiddenField("csrf"))
        let original = try #require(form.hiddenField("request")).replacingOccurrences(of: "&amp;", with: "&")
        let signIn = try await browser.post("/oauth/authorize", form: ["csrf": csrf, "step": "login", "request": original, "username": username, "password": password])
        guard signIn.status == 303, let next = signIn.location else { return signIn }
        return try await browser.get(next)
    }

    static func tokenRequest(_ browser: Browser, _ form: [String: String], basic: (String, String)? = nil) async throws -> WebResponse {
        var headers = [("Accept", "application/json")]
        if let (id, secret) = basic {
            headers.append(("Authorization", "Basic " + Data("\(goQueryEscape(id)):\(goQueryEscape(secret))".utf8).base64EncodedString()))
        }
        return try await browser.post("/oauth/token", form: form, headers: headers)
    }

    static func json(_ response: WebResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any] ?? [:]
    }

    /// A fresh gateway with the accounts table; hands over browser, dependencies and databases.
    static func withGateway(
        configure: (inout DrawbridgeConfiguration) -> Void = { _ in },
        _ body: @Sendable (Browser, AppDependencies, TestDatabases) async throws -> Void
    ) async throws {
        let databases = try await TestDatabases.create()
        do {
            try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
            var configuration = try DrawbridgeConfiguration.test(databases)
            configure(&configuration)
            try await LiveGateway.start(configuration) { browser, dependencies in
                try await body(browser, dependencies, databases)
            }
        } catch {
            await databases.drop()
            throw error
        }
        await databases.drop()
    }
}
