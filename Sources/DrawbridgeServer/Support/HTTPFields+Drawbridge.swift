import HTTPTypes

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xForwardedHost = Self("X-Forwarded-Host")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let xForwardedUri = Self("X-Forwarded-Uri")!
    static let remoteUser = Self("Remote-User")!
    static let remoteEmail = Self("Remote-Email")!
    static let remoteName = Self("Remote-Name")!
    static let remoteGroups = Self("Remote-Groups")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let crossOriginOpenerPolicy = Self("Cross-Origin-Opener-Policy")!
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
    static let permissionsPolicy = Self("Permissions-Policy")!
    static let pragma = Self("Pragma")!
    /// A controller whose form may redirect elsewhere (the authorize endpoint, to the client's redirect_uri)
    /// names that origin in this header; `SecurityHeadersMiddleware` moves it into `form-action` and drops it,
    /// so it never leaves Drawbridge.
    static let drawbridgeFormTarget = Self("X-Drawbridge-Form-Target")!
}
