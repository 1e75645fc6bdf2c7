import DrawbridgeCore
import Foundation

/// A platform user table as real platforms have them, filled with users whose passwords are known.
enum PlatformFixture {
    static let password = "correct horse battery staple"

    /// bcrypt from PHP's password_hash ($2y$), taken from the third-party vectors in Tests/…/Fixtures.
    static let bcryptHash = "$2y$10$za9F54npj9y30nwG9ICK3eKFKo4wOVzObku6XINls6UDyKosqI.Ha"
    /// yescrypt from libxcrypt's mkpasswd, same vectors.
    static let yescryptHash = "$y$j9T$OUcOvT5rAcqbLAeynsHgR1$OJMDCGo2pApmciMTa6AlsI7zVg0b7RzBSNOk4mvB6j."
    /// argon2id from argon2-cffi (64 MiB, t=3): slow enough to saturate a one-thread hash pool.
    static let argon2Hash = "$argon2id$v=19$m=65536,t=3,p=4$ExsIpvOuMzNBS52PQUzNmQ$QUEEzf2/LY5W1J3hxtV0GTWiXqVwHixheLsAe5/SHGw"

    /// `public.accounts` with a bigint id, shaped like the example mapping.
    static let accountsTable = """
        CREATE TABLE public.accounts (
            id bigserial PRIMARY KEY,
            login text NOT NULL UNIQUE,
            email text NOT NULL UNIQUE,
            full_name text NOT NULL,
            password_hash text,
            is_active boolean NOT NULL DEFAULT true
        );
        INSERT INTO public.accounts (login, email, full_name, password_hash, is_active) VALUES
            ('alice', 'Alice@Example.com', 'Alice Liddell', '\(bcryptHash)', true),
            ('erin', 'erin@example.com', 'Erin Yescrypt', '\(yescryptHash)', true),
            ('carol', 'carol@example.com', 'Carol Argon', '\(argon2Hash)', true),
            ('frank', 'frank@example.com', 'Frank Former', '\(bcryptHash)', false),
            ('nohash', 'nohash@example.com', 'No Hash', NULL, true),
            ('legacy', 'legacy@example.com', 'Legacy Plain', 'hunter2', true);
        """

    /// A second shape: UUID ids in another schema, read through a lookup query.
    static let uuidTable = """
        CREATE SCHEMA crm;
        CREATE TABLE crm.people (
            uid uuid PRIMARY KEY,
            handle varchar(64) NOT NULL,
            mail varchar(255),
            display text,
            secret text,
            status smallint NOT NULL
        );
        INSERT INTO crm.people VALUES
            ('6f1c1c3e-0d9b-4f7e-9a43-2a8b5f0c7d11', 'Zed', 'zed@example.net', 'Zed Zulu', '\(bcryptHash)', 1),
            ('0b9a2f4e-8c3d-4e5f-a6b7-c8d9e0f1a2b3', 'yan', 'yan@example.net', 'Yan Yankee', '\(bcryptHash)', 0);
        """

    static let uuidLookupQuery = "SELECT uid, handle, mail, display, secret, status FROM crm.people WHERE lower(handle) = lower($1) OR lower(mail) = lower($1)"
}
