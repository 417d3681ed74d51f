//! The roster builder: a configuration file (contract section 2) as TOML text, built from
//! parts, one key per line in the order the contract lists them, so that a test can still
//! find a line by its text or replace one value in it.

use std::path::{Path, PathBuf};

/// A value as TOML writes it.
pub trait Toml {
    fn to_toml(&self) -> String;
}

/// TOML text taken as it is: an inline table, an array, or a deliberately broken value.
#[derive(Debug, Clone, Copy)]
pub struct Raw<S>(pub S);

impl<S: AsRef<str>> Toml for Raw<S> {
    fn to_toml(&self) -> String {
        self.0.as_ref().to_string()
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Toml for str {
    fn to_toml(&self) -> String {
        quote(self)
    }
}

impl Toml for String {
    fn to_toml(&self) -> String {
        quote(self)
    }
}

impl Toml for Path {
    fn to_toml(&self) -> String {
        quote(&self.display().to_string())
    }
}

impl Toml for PathBuf {
    fn to_toml(&self) -> String {
        self.as_path().to_toml()
    }
}

impl Toml for bool {
    fn to_toml(&self) -> String {
        self.to_string()
    }
}

impl Toml for f64 {
    fn to_toml(&self) -> String {
        // `{:?}` keeps the decimal point (`18.0`), which TOML needs to read a float.
        format!("{self:?}")
    }
}

macro_rules! toml_integers {
    ($($t:ty),*) => {$(
        impl Toml for $t {
            fn to_toml(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
toml_integers!(i32, i64, u8, u16, u32, u64, usize);

impl<T: Toml> Toml for [T] {
    fn to_toml(&self) -> String {
        let items: Vec<String> = self.iter().map(Toml::to_toml).collect();
        format!("[{}]", items.join(", "))
    }
}

impl<T: Toml, const N: usize> Toml for [T; N] {
    fn to_toml(&self) -> String {
        self.as_slice().to_toml()
    }
}

impl<T: Toml> Toml for Vec<T> {
    fn to_toml(&self) -> String {
        self.as_slice().to_toml()
    }
}

impl<T: Toml + ?Sized> Toml for &T {
    fn to_toml(&self) -> String {
        (**self).to_toml()
    }
}

/// Keys of one table in the order they were first set; setting a key again replaces its
/// value where it stands.
#[derive(Debug, Clone, Default, PartialEq)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn set(&mut self, key: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    fn render(&self, header: &str, out: &mut String) {
        out.push_str(header);
        out.push('\n');
        for (k, v) in &self.0 {
            out.push_str(k);
            out.push_str(" = ");
            out.push_str(v);
            out.push('\n');
        }
    }
}

/// One element of a `[[list]]`: its id, and its keys in order.
macro_rules! part {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            id: String,
            fields: Fields,
        }

        impl $name {
            fn with_id(id: &str) -> $name {
                let mut fields = Fields::default();
                fields.set("id", quote(id));
                $name { id: id.to_string(), fields }
            }

            /// Sets any key (a hardware key, a deliberate mistake); setting a key again
            /// replaces its value where it stands.
            pub fn set(mut self, key: &str, value: impl Toml) -> $name {
                self.fields.set(key, value.to_toml());
                self
            }

            pub fn id(&self) -> &str {
                &self.id
            }
        }
    };
}

part!(
    /// A `[[rooms]]` entry.
    Room
);
part!(
    /// A `[[doors]]` entry.
    Door
);
part!(
    /// A `[[readers]]` entry.
    Reader
);
part!(
    /// A `[[sensors]]` entry.
    Sensor
);
part!(
    /// A `[[staff]]` entry.
    Staff
);
part!(
    /// A `[[children]]` entry.
    Child
);
part!(
    /// A `[[guardians]]` entry.
    Guardian
);

impl Room {
    pub fn new(id: &str, name: &str) -> Room {
        Room::with_id(id).set("name", name)
    }

    pub fn capacity(self, children: u32) -> Room {
        self.set("capacity", children)
    }
}

impl Door {
    /// A door with no name (the key is optional).
    pub fn new(id: &str) -> Door {
        Door::with_id(id)
    }

    pub fn name(self, name: &str) -> Door {
        self.set("name", name)
    }
}

impl Reader {
    /// A reader whose cards grant `door`.
    pub fn access(id: &str, door: &str) -> Reader {
        Reader::with_id(id)
            .set("purpose", "access")
            .set("door", door)
    }

    /// A reader that checks staff in and out.
    pub fn attendance(id: &str) -> Reader {
        Reader::with_id(id).set("purpose", "attendance")
    }

    /// A reader at which a staff badge is a sleep check in `room`.
    pub fn sleep_check(id: &str, room: &str) -> Reader {
        Reader::with_id(id)
            .set("purpose", "sleep_check")
            .set("room", room)
    }

    /// A reader at the assembly point: a staff badge accounts for its holder in a roll call.
    pub fn assembly(id: &str) -> Reader {
        Reader::with_id(id).set("purpose", "assembly")
    }

    /// A reader that moves staff into `room`.
    pub fn room(id: &str, room: &str) -> Reader {
        Reader::with_id(id).set("purpose", "room").set("room", room)
    }

    pub fn name(self, name: &str) -> Reader {
        self.set("name", name)
    }
}

impl Sensor {
    /// A sensor with no `kind` key: the loader's default (`virtual`, readings as events).
    pub fn new(id: &str, room: &str) -> Sensor {
        Sensor::with_id(id).set("room", room)
    }

    pub fn kind(self, kind: &str) -> Sensor {
        self.set("kind", kind)
    }
}

impl Staff {
    /// `role` is the contract's: caregiver, teacher, health, security, cook or admin.
    pub fn new(id: &str, name: &str, role: &str, room: &str) -> Staff {
        Staff::with_id(id)
            .set("name", name)
            .set("role", role)
            .set("room", room)
    }

    pub fn caregiver(id: &str, name: &str, room: &str) -> Staff {
        Staff::new(id, name, "caregiver", room)
    }

    pub fn teacher(id: &str, name: &str, room: &str) -> Staff {
        Staff::new(id, name, "teacher", room)
    }

    /// The card goes after the name, where a hand-written roster has it.
    pub fn card(mut self, card: &str) -> Staff {
        if !self.fields.has("card") {
            self.fields.0.insert(2, ("card".to_string(), quote(card)));
            return self;
        }
        self.set("card", card)
    }

    pub fn counts_in_ratio(self, counts: bool) -> Staff {
        self.set("counts_in_ratio", counts)
    }

    /// An argon2 PHC string, such as [`crate::PIN_HASH`].
    pub fn pin_hash(self, phc: &str) -> Staff {
        self.set("pin_hash", phc)
    }
}

impl Child {
    /// A child with no `guardians` key (nobody may pick them up).
    pub fn new(id: &str, name: &str, birth_date: &str, room: &str) -> Child {
        Child::with_id(id)
            .set("name", name)
            .set("birth_date", birth_date)
            .set("room", room)
    }

    pub fn guardians<'a>(self, ids: impl IntoIterator<Item = &'a str>) -> Child {
        let ids: Vec<&str> = ids.into_iter().collect();
        self.set("guardians", ids)
    }
}

impl Guardian {
    /// A guardian with no card (the key is optional).
    pub fn new(id: &str, name: &str) -> Guardian {
        Guardian::with_id(id).set("name", name)
    }

    pub fn card(self, card: &str) -> Guardian {
        self.set("card", card)
    }
}

/// A whole configuration file, built up part by part; [`Roster::toml`] writes it.
///
/// Tables come out in the contract's order (`[facility]`, rooms, doors, readers, sensors,
/// staff, children, guardians), then the other tables in the order they were first set,
/// then any [`Roster::raw`] text.
#[derive(Debug, Clone, PartialEq)]
pub struct Roster {
    facility: Fields,
    rooms: Vec<Room>,
    doors: Vec<Door>,
    readers: Vec<Reader>,
    sensors: Vec<Sensor>,
    staff: Vec<Staff>,
    children: Vec<Child>,
    guardians: Vec<Guardian>,
    tables: Vec<(String, Fields)>,
    raw: String,
}

impl Default for Roster {
    fn default() -> Roster {
        Roster::new()
    }
}

impl Roster {
    /// The 向日葵 facility (`310115-0042`, Asia/Shanghai, cn-2019, open 07:30–18:00) with
    /// nobody and nothing in it yet.
    pub fn new() -> Roster {
        let mut facility = Fields::default();
        for (k, v) in [
            ("id", "310115-0042"),
            ("name", "向日葵托育园"),
            ("timezone", "Asia/Shanghai"),
            ("ratio_preset", "cn-2019"),
            ("open", "07:30"),
            ("close", "18:00"),
        ] {
            facility.set(k, quote(v));
        }
        Roster {
            facility,
            rooms: Vec::new(),
            doors: Vec::new(),
            readers: Vec::new(),
            sensors: Vec::new(),
            staff: Vec::new(),
            children: Vec::new(),
            guardians: Vec::new(),
            tables: Vec::new(),
            raw: String::new(),
        }
    }

    /// The 向日葵 nursery the engine's tests know: 乳儿班 (`infant`) and 托小班
    /// (`toddler`); the `entrance` (大门, access reader `entrance-reader`) and the `garden`
    /// door; the attendance `kiosk` and the `toddler-reader` room reader; sensor
    /// `t-infant`; staff `s-01` (caregiver, card 10001), `s-02` (teacher, 10002), `s-cook`
    /// (cook, 10009, not counted) and `s-nurse` (health, no card, counted), all homed in
    /// `infant`; guardians `g-01` (card 20001) and `g-02` (20002). No children: add them
    /// with [`Roster::children`] or [`Roster::child`].
    pub fn sunflower() -> Roster {
        Roster::new()
            .room(Room::new("infant", "乳儿班"))
            .room(Room::new("toddler", "托小班"))
            .door(Door::new("entrance").name("大门"))
            .door(Door::new("garden"))
            .reader(Reader::access("entrance-reader", "entrance"))
            .reader(Reader::attendance("kiosk"))
            .reader(Reader::room("toddler-reader", "toddler"))
            .sensor(Sensor::new("t-infant", "infant"))
            .staff(Staff::caregiver("s-01", "王老师", "infant").card("10001"))
            .staff(Staff::teacher("s-02", "李老师", "infant").card("10002"))
            .staff(Staff::new("s-cook", "张师傅", "cook", "infant").card("10009"))
            .staff(Staff::new("s-nurse", "赵医生", "health", "infant").counts_in_ratio(true))
            .guardian(Guardian::new("g-01", "李女士").card("20001"))
            .guardian(Guardian::new("g-02", "陈先生").card("20002"))
    }

    /// The facility's id and name.
    pub fn facility(self, id: &str, name: &str) -> Roster {
        self.facility_set("id", id).facility_set("name", name)
    }

    pub fn timezone(self, tz: &str) -> Roster {
        self.facility_set("timezone", tz)
    }

    pub fn ratio_preset(self, preset: &str) -> Roster {
        self.facility_set("ratio_preset", preset)
    }

    /// Opening and closing time, local `HH:MM`.
    pub fn hours(self, open: &str, close: &str) -> Roster {
        self.facility_set("open", open).facility_set("close", close)
    }

    /// Any `[facility]` key (`locale`, a deliberate mistake).
    pub fn facility_set(mut self, key: &str, value: impl Toml) -> Roster {
        self.facility.set(key, value.to_toml());
        self
    }

    pub fn room(mut self, room: Room) -> Roster {
        self.rooms.push(room);
        self
    }

    pub fn door(mut self, door: Door) -> Roster {
        self.doors.push(door);
        self
    }

    pub fn reader(mut self, reader: Reader) -> Roster {
        self.readers.push(reader);
        self
    }

    pub fn sensor(mut self, sensor: Sensor) -> Roster {
        self.sensors.push(sensor);
        self
    }

    pub fn staff(mut self, staff: Staff) -> Roster {
        self.staff.push(staff);
        self
    }

    pub fn child(mut self, child: Child) -> Roster {
        self.children.push(child);
        self
    }

    pub fn guardian(mut self, guardian: Guardian) -> Roster {
        self.guardians.push(guardian);
        self
    }

    /// One child per birth date, homed in `room`, picked up by `g-01`: ids `c-01`, `c-02`,
    /// … numbered on from the children already on the roster (skipping ids taken), named
    /// `孩子1`, `孩子2`, ….
    pub fn children(mut self, room: &str, birth_dates: &[&str]) -> Roster {
        for born in birth_dates {
            let mut n = self.children.len() + 1;
            while self.children.iter().any(|c| c.id == format!("c-{n:02}")) {
                n += 1;
            }
            let child = Child::new(&format!("c-{n:02}"), &format!("孩子{n}"), born, room)
                .guardians(["g-01"]);
            self.children.push(child);
        }
        self
    }

    /// Takes every part with this id (room, door, reader, sensor, person) off the roster.
    pub fn without(mut self, id: &str) -> Roster {
        self.rooms.retain(|p| p.id != id);
        self.doors.retain(|p| p.id != id);
        self.readers.retain(|p| p.id != id);
        self.sensors.retain(|p| p.id != id);
        self.staff.retain(|p| p.id != id);
        self.children.retain(|p| p.id != id);
        self.guardians.retain(|p| p.id != id);
        self
    }

    /// `key = value` in `[table]` (`"mqtt"`, `"mqtt.tls"`, `"simulation"`, …).
    pub fn set(mut self, table: &str, key: &str, value: impl Toml) -> Roster {
        let value = value.to_toml();
        match self.tables.iter_mut().find(|(t, _)| t == table) {
            Some((_, fields)) => fields.set(key, value),
            None => {
                let mut fields = Fields::default();
                fields.set(key, value);
                self.tables.push((table.to_string(), fields));
            }
        }
        self
    }

    /// A `[rules]` key: `.rule("ratio_grace", "0s")`,
    /// `.rule("temperature", Raw("{ max_c = 26.0 }"))`.
    pub fn rule(self, key: &str, value: impl Toml) -> Roster {
        self.set("rules", key, value)
    }

    /// `[storage] dir`.
    pub fn storage(self, dir: &Path) -> Roster {
        self.set("storage", "dir", dir)
    }

    /// `[dashboard] listen`, e.g. `"127.0.0.1:0"`.
    pub fn listen(self, addr: &str) -> Roster {
        self.set("dashboard", "listen", addr)
    }

    /// `[mqtt] enabled = false`: no uplink.
    pub fn mqtt_off(self) -> Roster {
        self.set("mqtt", "enabled", false)
    }

    /// TOML text appended at the end as it is.
    pub fn raw(mut self, text: &str) -> Roster {
        self.raw.push_str(text);
        self
    }

    pub fn room_ids(&self) -> Vec<&str> {
        self.rooms.iter().map(|p| p.id()).collect()
    }

    pub fn staff_ids(&self) -> Vec<&str> {
        self.staff.iter().map(|p| p.id()).collect()
    }

    pub fn child_ids(&self) -> Vec<&str> {
        self.children.iter().map(|p| p.id()).collect()
    }

    /// The configuration file's text.
    pub fn toml(&self) -> String {
        let mut sections = Vec::new();
        let mut one = |header: &str, fields: &Fields| {
            let mut s = String::new();
            fields.render(header, &mut s);
            sections.push(s);
        };
        one("[facility]", &self.facility);
        self.rooms.iter().for_each(|p| one("[[rooms]]", &p.fields));
        self.doors.iter().for_each(|p| one("[[doors]]", &p.fields));
        self.readers
            .iter()
            .for_each(|p| one("[[readers]]", &p.fields));
        self.sensors
            .iter()
            .for_each(|p| one("[[sensors]]", &p.fields));
        self.staff.iter().for_each(|p| one("[[staff]]", &p.fields));
        self.children
            .iter()
            .for_each(|p| one("[[children]]", &p.fields));
        self.guardians
            .iter()
            .for_each(|p| one("[[guardians]]", &p.fields));
        for (table, fields) in &self.tables {
            one(&format!("[{table}]"), fields);
        }
        if !self.raw.is_empty() {
            sections.push(self.raw.clone());
        }
        sections.join("\n")
    }

    /// Writes the file as `dir/agent.toml`; returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        crate::write_config(dir, &self.toml())
    }

    /// The file in a new temporary directory, with `[storage] dir` in it (`<dir>/state`)
    /// unless one was set.
    pub fn temp(self) -> crate::TempConfig {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let has_storage = self
            .tables
            .iter()
            .any(|(t, f)| t == "storage" && f.has("dir"));
        let roster = if has_storage {
            self
        } else {
            self.storage(&dir.path().join("state"))
        };
        let path = roster.write(dir.path());
        crate::TempConfig { dir, path }
    }
}
