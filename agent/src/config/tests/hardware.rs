//! The hardware keys (hw): I²C and 1-Wire sensors, GPIO lines, reader inputs.

use super::*;

/// `BASE` with one more room sensor section appended.
fn with_hw(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

#[test]
fn hardware_sensors_take_their_bus_address_and_poll_with_defaults() {
    let cfg = ok(&with_hw(
        "[[sensors]]\nid = \"t-sht\"\nroom = \"infant\"\nkind = \"sht4x\"\naddress = 0x46\n",
    ));
    let s = cfg.sensors.iter().find(|s| s.id == "t-sht").unwrap();
    assert_eq!(s.kind, SensorKind::Sht4x);
    assert_eq!(s.i2c_bus(), PathBuf::from("/dev/i2c-1"));
    assert_eq!(s.i2c_address(), 0x46);
    assert_eq!(s.poll.0, Duration::from_secs(60));
}

#[test]
fn two_sensors_on_one_bus_address_are_reported_at_the_second() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\naddress = 0x44\n\n\
         [[sensors]]\nid = \"b\"\nroom = \"toddler\"\nkind = \"sht4x\"\nbus = \"/dev/i2c-1\"\naddress = 0x44 # second\n",
    );
    only(
        &text,
        "sensors[2].address",
        line(&text, "# second"),
        "address 0x44 on /dev/i2c-1 is already used by sensors[1].address",
    );
}

#[test]
fn the_same_address_on_two_buses_is_fine() {
    ok(&with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\n\n\
         [[sensors]]\nid = \"b\"\nroom = \"toddler\"\nkind = \"sht3x\"\nbus = \"/dev/i2c-3\"\n",
    ));
}

#[test]
fn one_gpio_line_used_twice_is_reported_at_the_second_use() {
    let text = BASE.replacen(
        "[[doors]]\nid = \"entrance\"\n",
        "[[doors]]\nid = \"entrance\"\ncontact = { line = 17 }\n\n[outputs]\nbuzzer = { line = 17 } # again\n",
        1,
    );
    only(
        &text,
        "outputs.buzzer.line",
        line(&text, "# again"),
        "line 17 of /dev/gpiochip0 is already used by doors[0].contact.line",
    );
}

#[test]
fn the_pis_i2c_pins_are_not_free_gpio_while_a_sensor_uses_i2c_1() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\n\n\
         [outputs]\nlight = { line = 3 } # scl\n",
    );
    only(&text, "outputs.light.line", line(&text, "# scl"), "SCL1");
}

#[test]
fn an_i2c_address_outside_0x03_to_0x77_is_reserved() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht4x\"\naddress = 0x78 # here\n",
    );
    only(
        &text,
        "sensors[1].address",
        line(&text, "# here"),
        "reserved",
    );
}

#[test]
fn an_sht3x_at_an_address_it_cannot_answer_is_reported() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\naddress = 0x46 # here\n",
    );
    only(
        &text,
        "sensors[1].address",
        line(&text, "# here"),
        "a sht3x answers only at 0x44 or 0x45",
    );
}

#[test]
fn a_malformed_w1_id_is_reported_and_a_missing_one_asked_for() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"ds18b20\"\nw1_id = \"28-0316A2791C2F\" # upper\n",
    );
    only(
        &text,
        "sensors[1].w1_id",
        line(&text, "# upper"),
        "lower-case hex",
    );
    let text = with_hw("[[sensors]] # none\nid = \"a\"\nroom = \"infant\"\nkind = \"ds18b20\"\n");
    only(
        &text,
        "sensors[1].w1_id",
        line(&text, "# none"),
        "needs its 1-Wire id",
    );
}

#[test]
fn hardware_keys_on_a_virtual_sensor_are_reported() {
    let text = BASE.replacen(
        "id = \"t-infant\"\nroom = \"infant\"\n",
        "id = \"t-infant\"\nroom = \"infant\"\naddress = 0x44 # stray\n",
        1,
    );
    only(
        &text,
        "sensors[0].address",
        line(&text, "# stray"),
        "not used by a sensor of kind \"virtual\"",
    );
}

#[test]
fn a_poll_as_long_as_the_stale_limit_is_reported() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\npoll = \"5m\" # slow\n",
    );
    only(
        &text,
        "sensors[1].poll",
        line(&text, "# slow"),
        "sensor_stale_after",
    );
}

#[test]
fn a_wiegand_reader_needs_both_data_lines_and_a_keyboard_reader_its_device() {
    let text = BASE.replacen(
        "door = \"entrance\"\n",
        "door = \"entrance\"\ninput = { kind = \"wiegand\", d0 = 5 } # one line\n",
        1,
    );
    only(
        &text,
        "readers[0].input.d1",
        line(&text, "# one line"),
        "needs d1",
    );
    let text = BASE.replacen(
        "door = \"entrance\"\n",
        "door = \"entrance\"\ninput = { kind = \"keyboard\" } # no device\n",
        1,
    );
    only(
        &text,
        "readers[0].input.device",
        line(&text, "# no device"),
        "needs its device",
    );
}

#[test]
fn an_unknown_key_in_a_door_contact_is_reported() {
    let text = BASE.replacen(
        "[[doors]]\nid = \"entrance\"\n",
        "[[doors]]\nid = \"entrance\"\ncontact = { line = 17, pin = 11 } # typo\n",
        1,
    );
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.key == "doors[0].contact.pin" && p.message.contains("`line`")),
        "{found:?}"
    );
}
