import DrawbridgeCore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A chat-server contract server (Tests/contract-servers/*.py) as a child process. These stand in for
/// Mattermost and Rocket.Chat, which cannot run here; they follow contracts/chat-servers.md.
final class ContractServer: @unchecked Sendable {
    let process: Process
    let port: Int
    let adminToken: String

    var url: String { "http://127.0.0.1:\(port)" }

    init(script: String, adminToken: String = "contract-admin-token", arguments: [String] = []) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../contract-servers/\(script)").standardized.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3", path,
                             "--port", "0", "--admin-token", adminToken] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("LISTENING "), let port = Int(text.dropFirst(10).prefix { $0.isNumber }) else {
            process.terminate()
            throw TestSetupError("\(script) did not start: \(text)")
        }
        self.process = process
        self.port = port
        self.adminToken = adminToken
    }

    /// SIGTERM, then SIGKILL after two seconds: never blocks a test for long.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The server's whole state (users with their auth_data, which the real API hides).
    func state() async throws -> [String: Any] {
        let response = try await Browser.http.execute(HTTPClientRequest(url: url + "/__contract__/state"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any]) ?? [:]
    }

    func users() async throws -> [[String: Any]] {
        let users = try await state()["users"]
        if let map = users as? [String: [String: Any]] { return Array(map.values) }
        return users as? [[String: Any]] ?? []
    }

    func user(named username: String) async throws -> [String: Any]? {
        try await users().first { $0["username"] as? String == username }
    }

    func control(_ path: String, _ body: [String: Any] = [:]) async throws {
        var request = HTTPClientRequest(url: url + "/__contract__/" + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await Browser.http.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    /// Turns on the Mattermost stand-in's GitLab SSO against Drawbridge at `gateway` (server-to-server calls),
    /// with `authorizeBase` where browsers are sent to sign in (a proxy in front, say; `gateway` by default).
    func enableGitLabSSO(gateway: String, clientID: String, secret: String, authorizeBase: String? = nil) async throws {
        try await control("config", [
            "gitlab_enable": true, "gitlab_id": clientID, "gitlab_secret": secret,
            "gitlab_auth_endpoint": (authorizeBase ?? gateway) + "/oauth/authorize",
            "gitlab_token_endpoint": gateway + "/oauth/token", "gitlab_user_api_endpoint": gateway + "/api/v4/user",
        ])
    }

    /// A browser's view of this server: its own cookie jar, as a real browser keeps per host.
    func browser() throws -> Browser {
        Browser(port: port, publicURL: try PublicURL(parsing: url))
    }
}

extension WebResponse {
    /// The Location header as a path and query, for following a redirect with the Browser for that host.
    var locationPath: String? {
        guard let location, let components = URLComponents(string: location) else { return nil }
        return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    /// The port of the Location header's host (the test servers all listen on 127.0.0.1).
    var locationPort: Int? { location.flatMap { URLComponents(string: $0)?.port } }
}
