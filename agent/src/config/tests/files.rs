//! Loading from a file: paths beside the configuration, unreadable and non-UTF-8 files.

use super::*;

#[test]
fn a_relative_storage_dir_resolves_against_the_config_file_s_directory() {
    let text = format!("{BASE}\n[storage]\ndir = \"../var/demo\"\n");
    let cfg = parse(&text, Path::new("/srv/nursery/config/demo.toml")).unwrap();
    assert_eq!(
        cfg.storage.dir,
        PathBuf::from("/srv/nursery/config/../var/demo")
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, format!("{BASE}\n[storage]\ndir = \"state\"\n")).unwrap();
    let cfg = load(&file).unwrap();
    assert_eq!(cfg.storage.dir, dir.path().join("state"));
    assert!(cfg.storage.dir.is_absolute());

    let cfg = ok(&format!("{BASE}\n[storage]\ndir = \"/var/lib/x\"\n"));
    assert_eq!(cfg.storage.dir, PathBuf::from("/var/lib/x"));
}

#[test]
fn an_unreadable_or_non_utf8_file_is_one_problem_without_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let err = load(&missing).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(err.problems[0].message.starts_with("cannot read"));
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"[facility]\nname = \"caf\xe9\"\n").unwrap();
    let err = load(&latin1).unwrap_err();
    assert!(err.problems[0].message.contains("offset 22"), "{err}");
}

#[test]
fn tls_and_password_files_are_found_beside_the_configuration() {
    let text = format!(
        "{}\n[mqtt]\nusername = \"agent\"\npassword_file = \"secrets/pw\"\ntls = {{ ca_file = \"ca.pem\" }}\n",
        MQTT_BASE
    );
    let cfg = parse(&text, std::path::Path::new("/etc/na/agent.toml")).unwrap();
    assert_eq!(
        cfg.mqtt.password_file.as_deref(),
        Some(std::path::Path::new("/etc/na/secrets/pw"))
    );
    assert_eq!(
        cfg.mqtt.tls.unwrap().ca_file,
        std::path::Path::new("/etc/na/ca.pem")
    );
}
