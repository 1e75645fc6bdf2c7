/// Something that checks a password against a stored hash: `PasswordHashVerifier` in production.
///
/// `PasswordAuthenticator` takes one so that tests can count and inspect the verifications a sign-in costs
/// (an unknown user must cost what a real one does) while the real verifier still does the work.
public protocol PasswordVerifying: Sendable {
    /// Blocking and CPU-bound (callers run it on a thread pool). Never throws: every failure is a value.
    func verify(password: String, against storedHash: String) -> PasswordVerification
}

extension PasswordHashVerifier: PasswordVerifying {}
