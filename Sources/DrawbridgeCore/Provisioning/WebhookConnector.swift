import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// For anything without a connector of its own: each action is a JSON event POSTed to one URL, signed so the
/// receiver can tell it came from Drawbridge and is fresh.
///
/// Headers: `X-Drawbridge-Event` (`user.provisioned`, `user.updated`, `user.deactivated`, `user.logged_out`),
/// `X-Drawbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Any 2xx is done; 5xx,
/// 408, 429 and no answer are retried; other 4xx fail the job. A receiver answering `{"id": "…"}` names the
/// account on its side; otherwise the platform id does. Delivery is at least once: receivers should be idempotent.
public struct WebhookConnector: ChatConnector {
    public struct Settings: Sendable {
        public var url: String
        public var secret: String
        public var timeout: Duration

        public init(url: String, secret: String, timeout: Duration = .seconds(10)) {
            self.url = url
            self.secret = secret
            self.timeout = timeout
        }
    }

    public enum Event: String, Sendable {
        case provisioned = "user.provisioned"
        case updated = "user.updated"
        case deactivated = "user.deactivated"
        case loggedOut = "user.logged_out"
    }

    public let name: String
    let settings: Settings

    public init(name: String = "webhook", settings: Settings) {
        self.name = name
        self.settings = settings
    }

    /// A webhook has nothing to read: its receiver is checked by the first event it gets.
    public func checkAccess() async throws(ConnectorError) -> String {
        "webhook to \(settings.url) (not checked: a receiver has nothing to read)"
    }

    public func provision(_ user: ChatUser, existing: ChatAccount?) async throws(ConnectorError) -> ChatAccount {
        let id = try await deliver(.provisioned, user: Self.payload(user))
        return ChatAccount(connector: name, user: user, chatUserID: id ?? existing?.chatUserID ?? user.platformID)
    }

    public func update(_ user: ChatUser, account: ChatAccount) async throws(ConnectorError) -> ChatAccount {
        _ = try await deliver(.updated, user: Self.payload(user))
        var updated = account
        updated.username = user.username
        updated.email = user.email
        updated.name = user.name
        updated.active = true
        return updated
    }

    public func deactivate(_ account: ChatAccount) async throws(ConnectorError) {
        _ = try await deliver(.deactivated, user: Self.payload(account))
    }

    public func revokeSessions(_ account: ChatAccount) async throws(ConnectorError) {
        _ = try await deliver(.loggedOut, user: Self.payload(account))
    }

    /// The signature header for a body sent at `timestamp`; receivers recompute it to check.
    public static func signature(body: [UInt8], secret: String, timestamp: Int) -> String {
        let signed = Array("\(timestamp).".utf8) + body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Array(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Sends the event; returns the receiver's `id` for the account when it names one.
    private func deliver(_ event: Event, user: [String: Any]) async throws(ConnectorError) -> String? {
        let timestamp = Int(Date().timeIntervalSince1970)
        let envelope: [String: Any] = ["event": event.rawValue, "connector": name, "occurred_at": timestamp, "user": user]
        guard let body = try? JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys]) else {
            throw .rejected("could not encode the \(event.rawValue) event")
        }
        var http = ConnectorHTTP(baseURL: "", headers: [
            ("X-Drawbridge-Event", event.rawValue),
            ("X-Drawbridge-Signature", Self.signature(body: Array(body), secret: settings.secret, timestamp: timestamp)),
        ], timeout: settings.timeout)
        http.refusal = "the \(name) webhook refused \(event.rawValue); check that the receiver verifies X-Drawbridge-Signature with the configured secret"
        let reply = try await http.send(.POST, settings.url, rawJSON: Array(body))
        guard (200..<300).contains(reply.status) else {
            throw .rejected("the \(name) webhook answered \(reply.status) to \(event.rawValue): \(reply.raw)")
        }
        return (reply.json as? [String: Any])?["id"] as? String
    }

    private static func payload(_ user: ChatUser) -> [String: Any] {
        var object: [String: Any] = [
            "platform_id": user.platformID, "sub": user.subject, "numeric_id": user.numericID, "username": user.username,
            "name": user.name, "given_name": user.firstName, "active": user.isActive,
        ]
        object["email"] = user.email
        object["family_name"] = user.lastName
        return object
    }

    private static func payload(_ account: ChatAccount) -> [String: Any] {
        var object: [String: Any] = ["platform_id": account.platformUserID, "id": account.chatUserID, "username": account.username]
        object["email"] = account.email
        object["name"] = account.name
        return object
    }
}
