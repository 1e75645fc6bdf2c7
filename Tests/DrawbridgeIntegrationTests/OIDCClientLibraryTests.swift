import DrawbridgeCore
import Foundation
import Testing

/// A real third-party OAuth/OIDC client library, Python's authlib (Debian's python3-authlib), against the
/// real `drawbridge serve`: discovery, code + PKCE, id_token verification against the JWKS (signature,
/// iss, aud, nonce, at_hash), userinfo, refresh rotation, revocation, code replay, wrong verifier, and an
/// inactive user. The driver is Tests/e2e/oidc_client_flow.py.
@Suite struct OIDCClientLibraryTests {
    static var python: String {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
    }

    @Test func authlibCompletesTheWholeFlow() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        let port = try CommandRunner.freePort()
        let config = try CommandRunner.writeConfig(databases) {
            $0.replacingOccurrences(of: "port: 0", with: "port: \(port)")
                .replacingOccurrences(of: "public_url: https://sso.example.com", with: "public_url: http://127.0.0.1:\(port)")
                .replacingOccurrences(of: "cookie_domain: example.com, ", with: "")
        }
        #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
        let redirect = "http://127.0.0.1:9/callback"
        let added = try CommandRunner.run(["clients", "add", "--config", config, "--name", "authlib", "--redirect-uri", redirect, "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        let credentials = try #require(try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: String])
        let log = Pipe()
        let server = try await CommandRunner.startServe(config: config, port: port, log: log)
        defer { server.terminate() }

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../e2e/oidc_client_flow.py").standardized.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [Self.python, script, "--issuer", "http://127.0.0.1:\(port)", "--client-id", credentials["client_id"] ?? "",
                             "--client-secret", credentials["client_secret"] ?? "", "--redirect-uri", redirect,
                             "--username", "alice", "--password", PlatformFixture.password, "--inactive-username", "frank"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "authlib driver failed:\n\(stdout)\n\(stderr)")
        #expect(stdout.contains("ok: id_token signature verifies"))
        #expect(stdout.contains("ok: id_token at_hash matches access token"))
        #expect(stdout.contains("ok: refresh token rotated"))
        #expect(stdout.contains("passed: "))
    }
}
