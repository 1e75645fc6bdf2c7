import DrawbridgeCore
import Foundation
import Hummingbird

/// Response and request helpers shared by the OAuth endpoints.
enum OAuthHTTP {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// JSON that no cache may keep (RFC 6749 §5.1).
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    struct ErrorBody: Encodable {
        var error: String
        var errorDescription: String

        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }

    /// RFC 6749 §5.2 error; `invalid_client` carries a `WWW-Authenticate` challenge.
    static func error(_ error: OAuthError) -> Response {
        var headers: HTTPFields = [:]
        if error.code == .invalidClient { headers[.wwwAuthenticate] = #"Basic realm="drawbridge", charset="UTF-8""# }
        return (try? json(ErrorBody(error: error.code.rawValue, errorDescription: error.description), status: .init(code: error.tokenEndpointStatus), headers: headers))
            ?? Response(status: .internalServerError)
    }

    /// RFC 6750 §3: a 401 with a Bearer challenge. Never a 403, never a body mentioning terms of service.
    static func invalidToken(_ description: String = "the access token is missing, expired or revoked") -> Response {
        var response = error(OAuthError(.invalidToken, description))
        response.headers[.wwwAuthenticate] = #"Bearer realm="drawbridge", error="invalid_token", error_description="\#(description)""#
        return response
    }

    /// Reads an `application/x-www-form-urlencoded` body into ordered pairs (names may repeat).
    static func form(_ request: Request, context: AppRequestContext) async throws(OAuthError) -> [(String, String)] {
        guard mediaType(request) == "application/x-www-form-urlencoded" else {
            throw OAuthError(.invalidRequest, "the body must be application/x-www-form-urlencoded")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: context.maxUploadSize)
        } catch {
            throw OAuthError(.invalidRequest, "the body is too large")
        }
        return FormPairs.parse(String(buffer: body))
    }

    /// The bearer token from `Authorization: Bearer …` or `?access_token=` (RFC 6750 §2.1, §2.3).
    /// `allowQuery: false` for APIs that never took tokens in the URL, where they would end up in logs (§5.3).
    static func bearerToken(_ request: Request, allowQuery: Bool = true) -> String? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return parts[1].trimmingCharacters(in: .whitespaces) }
            return nil
        }
        return allowQuery ? request.uri.queryParameters.get("access_token") : nil
    }

    /// The request's media type (`application/json`), lower-cased, without parameters.
    static func mediaType(_ request: Request) -> String? {
        request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

/// `a=1&b=2` → [("a","1"),("b","2")], with `+` as space and percent-decoding (HTML form rules).
enum FormPairs {
    static func parse(_ text: String) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode: (Substring) -> String = { ($0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? "" }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func single(_ pairs: [(String, String)], _ name: String) throws(OAuthError) -> String? {
        let values = pairs.filter { $0.0 == name }.map(\.1)
        guard values.count <= 1 else { throw OAuthError(.invalidRequest, "parameter \(name) is repeated") }
        return values.first.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Who is calling the token, revocation or introspection endpoint (RFC 6749 §2.3.1).
struct ClientAuthentication {
    let clients: any ClientStore

    /// `client_secret_basic` or `client_secret_post` (one, not both); public clients name themselves with `client_id`.
    func authenticate(_ request: Request, form: [(String, String)], allowPublic: Bool) async throws -> OAuthClient {
        var id = try FormPairs.single(form, "client_id")
        var secret = try FormPairs.single(form, "client_secret")
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("basic ") {
            guard secret == nil else { throw OAuthError(.invalidRequest, "use one client authentication method, not two") }
            guard let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else { throw OAuthError(.invalidClient, "the Basic credentials are malformed") }
            // The id and secret are form-encoded before base64 (RFC 6749 §2.3.1).
            let basicID = FormPairs.parse("x=" + text[..<colon])[0].1
            if let id, id != basicID { throw OAuthError(.invalidRequest, "client_id differs from the Basic credentials") }
            id = basicID
            secret = FormPairs.parse("x=" + text[text.index(after: colon)...])[0].1
        }
        guard let id else { throw OAuthError(.invalidClient, "client authentication is required") }
        guard let client = try await clients.client(id: id) else { throw OAuthError(.invalidClient, "unknown client or wrong secret") }
        if client.isPublic {
            guard allowPublic, secret == nil else { throw OAuthError(.invalidClient, "unknown client or wrong secret") }
            return client
        }
        guard let secret, client.secretMatches(secret) else { throw OAuthError(.invalidClient, "unknown client or wrong secret") }
        return client
    }
}
