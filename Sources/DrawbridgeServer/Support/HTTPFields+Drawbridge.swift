import HTTPTypes

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let crossOriginOpenerPolicy = Self("Cross-Origin-Opener-Policy")!
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
    static let permissionsPolicy = Self("Permissions-Policy")!
    static let pragma = Self("Pragma")!
}
