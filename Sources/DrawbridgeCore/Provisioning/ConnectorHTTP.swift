import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// JSON over HTTP for connectors, with failures sorted into retryable (`unavailable`) and not (`rejected`).
struct ConnectorHTTP: Sendable {
    /// One client for every connector. HTTPClient.shared keeps at most 8 HTTP/1.1 connections per host, which
    /// capped `provision sync` at 8 calls in flight whatever its --concurrency (measured: 313 users/s at 16).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    let baseURL: String
    let headers: [(String, String)]
    let timeout: Duration
    /// A 401/403 is reported as a bad admin token; a webhook, which has none, reports it itself.
    var explainsAuthFailures = true

    struct Reply {
        var status: Int
        var json: Any?
        var raw: String

        /// Mattermost's `{"id": "<error id>", …}` or Rocket.Chat's `{"error": …}`.
        var errorID: String? {
            let object = json as? [String: Any]
            return object?["id"] as? String ?? object?["error"] as? String ?? object?["errorType"] as? String
        }
    }

    /// One path segment or query value, percent-encoded (RFC 3986 unreserved characters stay).
    static func escape(_ text: String) -> String {
        RedirectURIBuilder.percentEncode(text)
    }

    func send(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil) async throws(ConnectorError) -> Reply {
        var encoded: [UInt8]?
        if let body {
            guard let data = try? JSONSerialization.data(withJSONObject: body) else { throw .rejected("could not encode a request body") }
            encoded = Array(data)
        }
        return try await send(method, path, rawJSON: encoded)
    }

    /// Sends an already encoded JSON body (a webhook signs the exact bytes it sends).
    func send(_ method: HTTPMethod, _ path: String, rawJSON: [UInt8]?) async throws(ConnectorError) -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Accept", value: "application/json")
        if let rawJSON {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: rawJSON))
        }
        let response: HTTPClientResponse
        let text: String
        do {
            response = try await Self.client.execute(request, timeout: TimeAmount(timeout))
            text = String(buffer: try await response.body.collect(upTo: 4 << 20))
        } catch {
            throw .unavailable("\(method.rawValue) \(path): \(error)")
        }
        let status = Int(response.status.code)
        let reply = Reply(status: status, json: text.isEmpty ? nil : try? JSONSerialization.jsonObject(with: Data(text.utf8)), raw: String(text.prefix(500)))
        if status >= 500 || status == 429 || status == 408 {
            // 500 from Mattermost can also be a duplicate auth_data; the caller checks that case first when it matters.
            if status >= 500, reply.errorID == "app.user.save.app_error" { return reply }
            throw .unavailable("\(method.rawValue) \(path) answered \(status) \(reply.errorID ?? reply.raw)")
        }
        if status == 401 || status == 403, explainsAuthFailures {
            throw .rejected("\(method.rawValue) \(path) answered \(status): the admin token is missing, wrong or lacks permission (\(reply.errorID ?? reply.raw))")
        }
        return reply
    }
}
