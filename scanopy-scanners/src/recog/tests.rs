use proptest::prelude::*;

use super::*;

/// Every example of every built-in database: its fingerprint matches it and gives the values
/// recog says it must. Fingerprints the `regex` crate cannot take are listed with the reason
/// and counted; their examples are skipped, and there may be only a few.
#[test]
fn every_recog_example_gives_what_recog_says() {
    let mut checked = 0;
    let mut skipped = 0;
    let mut failures = Vec::new();
    let mut unsupported = Vec::new();
    for name in names() {
        let db = database(name).expect("built in");
        for f in &db.fingerprints {
            if !f.supported() {
                unsupported.push(format!(
                    "{name}: {:?}: {}",
                    f.pattern,
                    f.regex.as_ref().unwrap_err()
                ));
                skipped += f.examples.len();
                continue;
            }
            for ex in &f.examples {
                checked += 1;
                let Some(got) = f.apply(&ex.text) else {
                    failures.push(format!(
                        "{name}: {:?} does not match {:?}",
                        f.pattern, ex.text
                    ));
                    continue;
                };
                for (k, want) in &ex.expect {
                    if got.get(k) != Some(want) {
                        failures.push(format!(
                            "{name}: {:?} on {:?}: {k} = {:?}, recog says {want:?}",
                            f.pattern,
                            ex.text,
                            got.get(k)
                        ));
                    }
                }
            }
        }
    }
    println!(
        "recog examples: {checked} checked, {} failed, {skipped} skipped with {} fingerprints our regex engine cannot take:",
        failures.len(),
        unsupported.len()
    );
    for u in &unsupported {
        println!("  unsupported: {u}");
    }
    assert!(checked > 2000, "only {checked} examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(unsupported.len() <= 10, "{}", unsupported.join("\n"));
}

#[test]
fn ruby_inline_m_is_dot_matches_newline_and_anchors_are_per_line() {
    assert_eq!(ruby_to_rust("(?m)a.b"), "(?s)a.b");
    assert_eq!(ruby_to_rust("(?im:x)"), "(?is:x)");
    assert_eq!(ruby_to_rust(r"\(?m\)"), r"\(?m\)");
    assert_eq!(ruby_to_rust("[(?m)]"), "[(?m)]");
    let re = compile("^Server: (.+)$", "").unwrap();
    assert_eq!(&re.captures("HTTP/1.1 200\nServer: x\n").unwrap()[1], "x");
    assert!(compile("a.b", "").unwrap().captures("a\nb").is_none());
    assert!(compile("a.b", "REG_DOT_NEWLINE").unwrap().is_match("a\nb"));
    assert!(compile("abc", "REG_ICASE").unwrap().is_match("ABC"));
}

#[test]
fn parameters_name_other_parameters() {
    let db = Database::parse(
        "t",
        r#"<fingerprints matches="t"><fingerprint pattern="^OpenSSH_(\S+)$">
             <description>d</description>
             <param pos="1" name="service.version"/>
             <param pos="0" name="service.cpe23" value="cpe:/a:openbsd:openssh:{service.version}"/>
             <param pos="0" name="bad" value="{nothing}"/>
           </fingerprint></fingerprints>"#,
    )
    .unwrap();
    let m = db.first_match("OpenSSH_9.2p1").unwrap();
    assert_eq!(m.get("service.cpe23"), Some("cpe:/a:openbsd:openssh:9.2p1"));
    assert_eq!(m.get("bad"), None);
    assert_eq!(m.description, "d");
}

#[test]
fn base64_examples_are_decoded() {
    assert_eq!(decode_base64("SGVsbG8s\nIHdvcmxk"), "Hello, world");
    assert_eq!(decode_base64(""), "");
}

#[test]
fn a_document_that_is_not_a_database_is_an_error() {
    assert!(Database::parse("x", "<nope/>").is_err());
    assert!(Database::parse("x", "<fingerprints><fingerprint/></fingerprints>").is_err());
    assert!(Database::parse("x", "not xml").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_matched_against_any_database_is_an_answer(text in ".{0,300}") {
        for name in ["ssh_banners", "http_servers", "smtp_banners"] {
            let _ = database(name).unwrap().first_match(&text);
        }
    }

    #[test]
    fn any_document_parses_or_fails_cleanly(xml in ".{0,400}") {
        let _ = Database::parse("fuzz", &xml);
    }

    #[test]
    fn any_pattern_translates_and_compiles_or_fails_cleanly(p in ".{0,80}", icase: bool) {
        let _ = compile(&p, if icase { "REG_ICASE" } else { "" });
    }
}
