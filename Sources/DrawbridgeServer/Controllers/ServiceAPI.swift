import DrawbridgeCore
import Foundation
import Hummingbird
import Logging

/// What the platform backend's endpoints (`/api/v1/…`, see `openapi/drawbridge.yaml`) share: the service token
/// (RFC 6750 Bearer, hashed at rest), a JSON body, and JSON errors `{error, error_description}`.
enum ServiceAPI {
    /// A call refused before it reached the endpoint's own work: the response says why.
    struct Refusal: Error {
        var response: Response
        /// Set when the service token was refused, for the endpoint's metric.
        var tokenRefused = false

        init(_ response: Response) {
            self.response = response
        }
    }

    /// The calling backend's token name and the JSON body as `Body`, or the response refusing the call.
    static func accept<Body: Decodable>(
        _ request: Request, tokens: any ServiceTokenStore, context: AppRequestContext, as: Body.Type, shape: String
    ) async throws -> Result<(tokenName: String, body: Body), Refusal> {
        switch try await authenticate(request, tokens: tokens, context: context) {
        case .failure(var refusal):
            refusal.tokenRefused = true
            return .failure(refusal)
        case .success(let tokenName):
            return await body(request, as: Body.self, shape: shape).map { (tokenName, $0) }
        }
    }

    /// The name of the calling backend's token, or the response refusing the call.
    private static func authenticate(_ request: Request, tokens: any ServiceTokenStore, context: AppRequestContext) async throws -> Result<String, Refusal> {
        // RFC 6750 §3.1: no credentials at all gets a bare challenge; bad ones get `invalid_token`.
        guard let presented = OAuthHTTP.bearerToken(request, allowQuery: false) else {
            return .failure(Refusal(problem(.unauthorized, "invalid_token", "a service token is required (Authorization: Bearer dbt_…; make one with drawbridge tokens add --name NAME)",
                                    headers: [.wwwAuthenticate: #"Bearer realm="drawbridge""#])))
        }
        guard let token = ServiceToken(presented: presented), let name = try await tokens.authenticate(token) else {
            context.logger.notice("service API call refused: unknown or revoked service token", metadata: ["path": "\(request.uri.path)"])
            return .failure(Refusal(problem(.unauthorized, "invalid_token", "the service token is unknown or revoked",
                                    headers: [.wwwAuthenticate: #"Bearer realm="drawbridge", error="invalid_token", error_description="the service token is unknown or revoked""#])))
        }
        return .success(name)
    }

    /// The JSON body as `Body`, or a 415 / 400 that shows the expected shape.
    private static func body<Body: Decodable>(_ request: Request, as: Body.Type, shape: String) async -> Result<Body, Refusal> {
        guard OAuthHTTP.mediaType(request) == "application/json" else {
            return .failure(Refusal(problem(.unsupportedMediaType, "invalid_request", "the body must be application/json")))
        }
        do {
            let bytes = try await request.body.collect(upTo: 16 * 1024)
            return .success(try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView)))
        } catch {
            return .failure(Refusal(problem(.badRequest, "invalid_request", "the body must be a JSON object: \(shape)")))
        }
    }

    static func status(of error: HandoffError) -> HTTPResponse.Status {
        switch error {
        case .invalidRequest, .redirectNotAllowed: .badRequest
        case .unknownUser: .notFound
        case .inactiveUser: .forbidden
        case .ambiguousUser: .conflict
        }
    }

    static let unavailable = problem(.serviceUnavailable, "temporarily_unavailable", "the directory or Drawbridge's database did not answer; try again",
                                     headers: [.retryAfter: "1"])

    static func problem(_ status: HTTPResponse.Status, _ error: String, _ description: String, headers: HTTPFields = [:]) -> Response {
        (try? OAuthHTTP.json(OAuthHTTP.ErrorBody(error: error, errorDescription: description), status: status, headers: headers))
            ?? Response(status: .internalServerError)
    }
}
