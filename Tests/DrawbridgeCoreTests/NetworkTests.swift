import DrawbridgeCore
import Testing

@Suite struct NetworkTests {
    @Test func cidrMatching() throws {
        let v4 = try IPNetwork(parsing: "10.0.0.0/8")
        #expect(v4.contains("10.200.3.4"))
        #expect(!v4.contains("11.0.0.1"))
        #expect(v4.contains("::ffff:10.1.2.3"))
        let v6 = try IPNetwork(parsing: "fd00::/8")
        #expect(v6.contains("fd12:3456::1"))
        #expect(!v6.contains("fe80::1"))
        #expect(try IPNetwork(parsing: "127.0.0.1").contains("127.0.0.1"))
        #expect(throws: ConfigurationError.self) { try IPNetwork(parsing: "10.0.0.0/33") }
        #expect(throws: ConfigurationError.self) { try IPNetwork(parsing: "example.com") }
    }

    @Test func forwardedForIsBelievedOnlyFromTrustedProxies() throws {
        let resolver = ClientAddressResolver(trustedProxies: [try IPNetwork(parsing: "127.0.0.1/32"), try IPNetwork(parsing: "10.0.0.0/8")])
        // Untrusted peer: its header is ignored.
        #expect(resolver.clientAddress(peer: "203.0.113.9", forwardedFor: ["1.2.3.4"]) == "203.0.113.9")
        // Trusted proxy: the rightmost untrusted hop is the client, whatever the client prepended.
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 198.51.100.7"]) == "198.51.100.7")
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["198.51.100.7, 10.0.0.5"]) == "198.51.100.7")
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: []) == "127.0.0.1")
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["garbage"]) == "127.0.0.1")
    }
}
