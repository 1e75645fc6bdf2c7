import Foundation

/// Finds the real client address behind reverse proxies.
///
/// `X-Forwarded-For` is believed only when the peer is a trusted proxy, and then read from the right:
/// the first address that is not itself a trusted proxy is the client. A client cannot forge its way
/// past this by sending its own header, because the trusted proxy appends the address it saw.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [IPNetwork]

    public init(trustedProxies: [IPNetwork]) {
        self.trustedProxies = trustedProxies
    }

    public func isTrusted(_ address: String?) -> Bool {
        guard let address else { return false }
        return trustedProxies.contains { $0.contains(address) }
    }

    public func clientAddress(peer: String?, forwardedFor: [String]) -> String? {
        guard isTrusted(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard IPNetwork.bytes(of: hop) != nil else { return peer }
            if !isTrusted(hop) { return hop }
        }
        return hops.first ?? peer
    }
}
