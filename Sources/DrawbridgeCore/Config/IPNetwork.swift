#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An address range in CIDR form (`10.0.0.0/8`, `::1/128`, or a bare address), for `trusted_proxies`.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let address: [UInt8]
    public let prefixLength: Int

    public init(parsing text: String) throws(ConfigurationError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let bytes = IPNetwork.bytes(of: String(parts[0])) else {
            throw ConfigurationError("'\(text)' is not an IP address or CIDR range (e.g. 10.0.0.0/8)")
        }
        let maximum = bytes.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : maximum
        guard let length, (0...maximum).contains(length) else {
            throw ConfigurationError("'\(text)' has a prefix length outside 0…\(maximum)")
        }
        self.address = bytes
        self.prefixLength = length
    }

    public func contains(_ addressText: String) -> Bool {
        guard var candidate = IPNetwork.bytes(of: addressText) else { return false }
        // An IPv4 client seen through an IPv6 socket arrives as ::ffff:a.b.c.d.
        if address.count == 4, candidate.count == 16, candidate[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            candidate = Array(candidate[12...])
        }
        guard candidate.count == address.count else { return false }
        var remaining = prefixLength
        for index in address.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if address[index] & mask != candidate[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") + "/\(prefixLength)" }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "/\(prefixLength)"
    }

    /// The raw bytes of an IPv4 or IPv6 address, or nil.
    public static func bytes(of text: String) -> [UInt8]? {
        var host = text
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if let zone = host.firstIndex(of: "%") { host = String(host[..<zone]) }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
