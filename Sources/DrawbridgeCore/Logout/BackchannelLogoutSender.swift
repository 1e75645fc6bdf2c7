import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Delivers OIDC back-channel logout tokens (Back-Channel Logout 1.0 §2.5): a form POST of `logout_token` to
/// the client's registered `backchannel_logout_uri`, answered 200 (or 204) when the relying party ended its
/// session. A client that does not answer is tried again a few times, then given up on with a warning: the
/// tokens it held are already revoked here, so a missed notice leaves only its own cookie alive.
public struct BackchannelLogoutSender: Sendable {
    let issuer: String
    let keys: SigningKeyRing
    let logger: Logger
    let timeout: Duration
    let retryDelays: [Duration]

    public init(issuer: String, keys: SigningKeyRing, logger: Logger, timeout: Duration = .seconds(5),
                retryDelays: [Duration] = [.seconds(1), .seconds(4), .seconds(15)]) {
        self.issuer = issuer
        self.keys = keys
        self.logger = logger
        self.timeout = timeout
        self.retryDelays = retryDelays
    }

    /// Sends one logout token to `client`; true when it was accepted.
    @discardableResult
    public func notify(_ client: OAuthClient, subject: String, sid: String?) async -> Bool {
        guard let uri = client.backchannelLogoutURI else { return true }
        for (attempt, delay) in ([Duration.zero] + retryDelays).enumerated() {
            if delay > .zero { try? await Task.sleep(for: delay) }
            do {
                let token = try await keys.signer().sign(LogoutTokenClaims(iss: issuer, aud: client.clientID, sub: subject, sid: sid))
                var request = HTTPClientRequest(url: uri)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.headers.add(name: "Cache-Control", value: "no-store")
                request.body = .bytes(ByteBuffer(string: "logout_token=" + RedirectURIBuilder.percentEncode(token)))
                let response = try await ConnectorHTTP.client.execute(request, timeout: TimeAmount(timeout))
                let body = String(buffer: try await response.body.collect(upTo: 64 << 10))
                if response.status == .ok || response.status == .noContent {
                    logger.info("back-channel logout delivered", metadata: ["client_id": "\(client.clientID)"])
                    return true
                }
                logger.warning("back-channel logout refused", metadata: [
                    "client_id": "\(client.clientID)", "status": "\(response.status.code)", "body": "\(body.prefix(200))", "attempt": "\(attempt + 1)",
                ])
                // 400 means the RP judged the token itself: sending the same kind again will not help.
                if response.status == .badRequest { return false }
            } catch {
                logger.warning("back-channel logout not delivered", metadata: ["client_id": "\(client.clientID)", "error": "\(error)", "attempt": "\(attempt + 1)"])
            }
        }
        return false
    }
}
