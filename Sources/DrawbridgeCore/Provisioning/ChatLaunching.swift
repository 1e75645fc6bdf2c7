import Foundation
import Logging

/// A chat server a browser can be sent to so that it signs in through Drawbridge at once: the target of
/// `GET /launch/<connector>`, behind a platform's "Open chat" button.
public protocol ChatLaunching: Sendable {
    /// Where the browser starts this chat's sign-in. `redirectTo` is a path inside the chat to end on,
    /// already checked to be a plain path; connectors that cannot carry it ignore it.
    func launchURL(redirectTo: String?, logger: Logger) async throws(ConnectorError) -> String
}

/// A connector's settings with an API address and, optionally, another address for browsers.
protocol BrowserFacingSettings {
    var url: String { get }
    var publicURL: String? { get }
}

extension BrowserFacingSettings {
    /// Where browsers reach the chat server: `public_url` when set (the API `url` may be internal), no trailing `/`.
    var browserURL: String { publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? url }
}

public enum LaunchPath {
    /// A path inside the chat (`/team/channels/x`), never a URL or a network-path reference (`//host`).
    public static func validated(_ candidate: String?) -> String? {
        guard let candidate, RedirectPolicy.isPlainPath(candidate, maxLength: 1024) else { return nil }
        return candidate
    }

    static func with(_ base: String, query: [(String, String?)]) -> String {
        var components = URLComponents(string: base)
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty { components?.queryItems = items }
        // URLComponents leaves `+`, `&`-free `/` and `:` alone; a value must not be read as a space.
        let query = components?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        components?.percentEncodedQuery = query
        return components?.string ?? base
    }
}

extension MattermostConnector: ChatLaunching {
    /// `/oauth/{gitlab|openid}/login` is Mattermost's one-click SSO start (contract §1, §3): it redirects to
    /// Drawbridge's authorize endpoint, which finds the shared-domain session and answers without a form.
    /// `id` is the launch team's invite id, so a user created by this login lands in that team.
    public func launchURL(redirectTo: String?, logger: Logger) async throws(ConnectorError) -> String {
        var invite: String?
        if let team = settings.launchTeam ?? settings.teams.first {
            do {
                invite = try await inviteID(team: team)
            } catch {
                // The link still signs the user in; only the team hint is lost, and provisioning joins the team anyway.
                logger.warning("launch link without the team invite id", metadata: ["connector": "\(name)", "team": "\(team)", "error": "\(error)"])
            }
        }
        return LaunchPath.with(settings.browserURL + "/oauth/\(settings.authService)/login", query: [("id", invite), ("redirect_to", redirectTo)])
    }
}

extension SynapseConnector: ChatLaunching {
    /// Synapse's SSO redirect for Drawbridge's idp (contract §5), returning to the configured Matrix client.
    public func launchURL(redirectTo: String?, logger: Logger) async throws(ConnectorError) -> String {
        guard let client = settings.clientURL else {
            throw .rejected("the \(name) connector has no client_url (the Matrix client Synapse returns to after sign-in, e.g. https://element.example.com); set connectors.\(name).client_url")
        }
        return LaunchPath.with(settings.browserURL + "/_matrix/client/v3/login/sso/redirect/\(settings.authProvider)", query: [("redirectUrl", client)])
    }
}

extension RocketChatConnector: ChatLaunching {
    /// Rocket.Chat starts custom OAuth in its web client (contract §4.2), so the link opens the client, where
    /// a user without a Rocket.Chat session presses the Drawbridge button once.
    public func launchURL(redirectTo: String?, logger: Logger) async throws(ConnectorError) -> String {
        settings.browserURL + (redirectTo ?? "/home")
    }
}
