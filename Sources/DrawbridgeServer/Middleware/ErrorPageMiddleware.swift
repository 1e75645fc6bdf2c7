import DrawbridgeCore
import Hummingbird
import Logging
import Logging

/// Turns errors on browser-facing routes into HTML pages; unexpected ones are logged and shown as a plain 500.
struct ErrorPageMiddleware<Context: RequestContext>: RouterMiddleware {
    let pages: PageRenderer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            let title = error.status.code == 404 ? "Page not found" : error.status.reasonPhrase
            return pages.errorPage(status: error.status, title: title, message: "There is nothing to show here.")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            return pages.errorPage(status: .internalServerError, title: "Something went wrong", message: "Please try again in a moment.")
        }
    }
}
