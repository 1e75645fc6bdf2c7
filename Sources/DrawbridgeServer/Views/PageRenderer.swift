import DrawbridgeCore
import Foundation
import Hummingbird
import Mustache

/// Renders the HTML pages from the mustache templates bundled with the server.
/// Values are HTML-escaped by mustache (`{{x}}`); templates never use the unescaped form.
public struct PageRenderer: Sendable {
    let library: MustacheLibrary
    let publicURL: PublicURL
    let stylesheet: String

    public static func load(publicURL: PublicURL) async throws -> PageRenderer {
        guard let resources = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw PageRendererError.resourcesMissing
        }
        let library = try await MustacheLibrary(directory: resources.appendingPathComponent("templates").path)
        let stylesheet = try String(contentsOf: resources.appendingPathComponent("static/drawbridge.css"), encoding: .utf8)
        return PageRenderer(library: library, publicURL: publicURL, stylesheet: stylesheet)
    }

    /// An HTML response that no cache keeps (pages carry CSRF tokens and user names).
    func page(_ template: String, status: HTTPResponse.Status = .ok, values: [String: Any], headers: HTTPFields = [:]) -> Response {
        var values = values
        values["stylesheet"] = publicURL.path("/static/drawbridge.css")
        let html = library.render(values, withTemplate: template) ?? "<!doctype html><title>Drawbridge</title><p>Template \(template) is missing."
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func errorPage(status: HTTPResponse.Status, title: String, message: String, retry: String? = nil) -> Response {
        var values: [String: Any] = ["title": title, "message": message, "home": publicURL.path("/")]
        if let retry { values["retry"] = retry }
        return page("error", status: status, values: values)
    }
}

enum PageRendererError: Error, CustomStringConvertible {
    case resourcesMissing

    var description: String { "the server's templates are missing (Resources of DrawbridgeServer)" }
}
