import Hummingbird

/// The one stylesheet (the CSP allows no inline styles or scripts).
struct StaticController: Sendable {
    let stylesheet: String

    func addRoutes(to router: Router<AppRequestContext>) {
        let body = ByteBuffer(string: stylesheet)
        router.get("/static/drawbridge.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"], body: .init(byteBuffer: body))
        }
    }
}
