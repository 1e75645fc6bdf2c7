import DrawbridgeCore
import Hummingbird
import Logging
import Metrics

/// `GET /launch/<connector>`: the target of a platform's "Open chat" button. It sends the browser to that
/// chat's single sign-on start, which comes back to Drawbridge's authorize endpoint; with the shared-domain
/// session (or the platform's own, through the bridge) that answers at once, so one click opens chat signed in.
/// `?redirect_to=/path` ends on a page inside the chat where the chat supports it (Mattermost).
struct LaunchController: Sendable {
    let connectors: [String: any ChatConnector]
    let pages: PageRenderer

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/launch/:connector", use: launch)
    }

    @Sendable func launch(request: Request, context: AppRequestContext) async throws -> Response {
        let name = context.parameters.get("connector") ?? ""
        guard let connector = connectors[name] as? any ChatLaunching else {
            return pages.errorPage(status: .notFound, title: "No such chat", message: "There is no chat to open at this address.")
        }
        let redirectTo = LaunchPath.validated(request.uri.queryParameters.get("redirect_to"))
        do {
            let target = try await connector.launchURL(redirectTo: redirectTo, logger: context.logger)
            Counter(label: "drawbridge_launches_total", dimensions: [("connector", name)]).increment()
            return Response(status: .found, headers: [.location: target, .cacheControl: "no-store"])
        } catch {
            context.logger.error("launch link is misconfigured", metadata: ["connector": "\(name)", "error": "\(error)"])
            return pages.errorPage(status: .serviceUnavailable, title: "Chat cannot be opened", message: "This chat's launch link is not set up yet. Please tell your administrator.")
        }
    }
}
