-- scanopy store, schema 12 (postgres): three roles (admin, editor, viewer; 'read' is now 'viewer')
-- and users an admin can disable (their sessions and tokens stop working).
ALTER TABLE users ADD COLUMN disabled_at TEXT;
UPDATE users SET role = 'viewer' WHERE role = 'read';
UPDATE credentials SET role = 'viewer' WHERE role = 'read';
CREATE INDEX credentials_user ON credentials(user_id, kind);
