'use strict';
// The staff page. Talks only to the agent that served it; builds every node with
// textContent (never innerHTML), so nothing from the API can run as markup.

const TEXT = {
  zh: {
    connecting: '连接中…', live: '实时', offline: '已断开，重连中…', alerts: '当前警报', noAlerts: '暂无警报',
    rooms: '班级', doors: '门禁', today: '今日', timeline: '警报记录', login: '登录', logout: '退出',
    loginTitle: '员工登录', staffId: '员工编号', pin: 'PIN 码', cancel: '取消', ack: '确认',
    acked: '已确认', by: '', children: '幼儿', staff: '在岗', required: '需要', capacity: '容量',
    ok: '师幼比正常', short: '人手不足（宽限期内）', breach: '师幼比不足', over: '超员', empty: '无幼儿',
    open: '开', closed: '关', held: '长时间未关', forced: '被强行打开', ago: '前', s: '秒', m: '分钟', h: '小时',
    raised: '发生', resolved: '解除', acknowledged: '已确认', tooMany: '尝试次数过多，请 {n} 秒后再试',
    wrong: '员工编号或 PIN 码错误', ackDone: '已确认警报', failed: '操作失败：', months: '月', noData: '暂无数据',
    loggedIn: '已登录：', wall: '只读显示屏', ledger: '台账（打印）',
    legendStaff: '在岗教职工（计入师幼比）', legendRequired: '按师幼比需要的教职工', legendGap: '人手不足的时段',
    axisStaff: '教职工人数', childrenNow: '幼儿 {n} 人',
    nap: '午睡中', napFrom: '{t} 开始', lastCheck: '上次巡查', noCheck: '尚未巡查，午睡已', nextCheck: '下次巡查',
    overdue: '巡查已超时', checked: '已巡查', startNap: '开始午睡', endNap: '结束午睡', checkDone: '已记录巡查',
    napStarted: '已开始午睡', napEnded: '已结束午睡', sleepCheckMissed: '午睡巡查超时',
    dispose: '处置', disposeTitle: '处置记录', disposeAction: '处置方式', disposeNote: '说明（仅保存在本机）',
    disposeSave: '保存', disposeDone: '已记录处置', disposed: '已处置',
    testPanic: '测试', testArmed: '请在 2 分钟内按下该按钮（记为测试）', panicInput: '一键报警', fireInput: '消防报警',
    act_handled_on_site: '现场处理', act_parent_notified: '已通知家长', act_escalated: '已上报', act_false_alarm: '误报', act_other: '其他',
    em_evacuation: '疏散', em_lockdown: '封闭', em_fire: '火灾', em_drill: '演练', emergency: '紧急事件',
    rollCall: '紧急点名', missingOf: '未到 {m} / 共 {n} 人', allAccounted: '全部已到', accounted: '已到',
    endEmergency: '结束', startEmergency: '开始', emStarted: '已开始', emEnded: '已结束', rollDone: '已点名',
    rollLate: '点名超时', emSince: '{t} 开始',
    health: '晨午检 · 出勤', hcPass: '正常', hcRefer: '复查', hcNone: '未检', hcDone: '已记录晨午检', hcFever: '异常',
    hcMissing: '未检（超时）', hcAbsent: '已请假', hcNotIn: '未到', hcNotExpected: '今日无课', hcTemp: '体温 °C',
    absentBtn: '请假', absenceDone: '已登记请假', reason_sick: '病假', reason_personal: '事假', reason_other: '其他',
    counted: '计入师幼比', notCounted: '在园未计入：', onBreak: '休息中', otherWork: '其他工作', roleNotCounted: '岗位不计入',
    certMissing: '缺{c}', certExpired: '{c}已于 {d} 过期', certificate: '证件无效', setOnDuty: '在岗', setBreak: '休息',
    setOtherWork: '其他工作', presenceDone: '已更新在岗状态',
    system: '系统状态', clockSynced: '时钟已同步', clockNotSynced: '时钟未同步（时间可能不准）', config: '配置',
    configSince: '生效于', kept: '已从名册移除、尚未离园（离园前保留）', refused: '配置重新加载被拒绝（{n} 个问题），沿用原配置',
    journalOk: '记录正常', journalFailing: '记录写入失败：{n} 条暂存于内存，尚未保存',
  },
  en: {
    connecting: 'connecting…', live: 'live', offline: 'disconnected, reconnecting…', alerts: 'Active alerts',
    noAlerts: 'No alerts', rooms: 'Rooms', doors: 'Doors', today: 'Today', timeline: 'Alert timeline',
    login: 'Log in', logout: 'Log out', loginTitle: 'Staff login', staffId: 'Staff id', pin: 'PIN', cancel: 'Cancel',
    ack: 'Acknowledge', acked: 'Acknowledged', by: 'by ', children: 'children', staff: 'staff', required: 'required',
    capacity: 'capacity', ok: 'in ratio', short: 'short (grace period)', breach: 'ratio breached', over: 'over capacity',
    empty: 'no children', open: 'open', closed: 'closed', held: 'held open', forced: 'forced', ago: ' ago',
    s: 's', m: 'min', h: 'h', raised: 'raised', resolved: 'resolved', acknowledged: 'acknowledged',
    tooMany: 'Too many attempts; try again in {n} s', wrong: 'Wrong staff id or PIN', ackDone: 'Alert acknowledged',
    failed: 'Failed: ', months: ' mo', noData: 'no data yet', loggedIn: 'Logged in: ', wall: 'wall display', ledger: 'Daily ledger (print)',
    legendStaff: 'Staff on duty (counted)', legendRequired: 'Staff the ratio requires', legendGap: 'Short of staff',
    axisStaff: 'staff', childrenNow: '{n} children',
    nap: 'Napping', napFrom: 'since {t}', lastCheck: 'Last check', noCheck: 'No check yet; napping for', nextCheck: 'next check',
    overdue: 'Sleep check overdue', checked: 'Checked', startNap: 'Start nap', endNap: 'End nap', checkDone: 'Sleep check recorded',
    napStarted: 'Nap started', napEnded: 'Nap ended', sleepCheckMissed: 'Sleep check missed',
    dispose: 'Record action', disposeTitle: 'What was done', disposeAction: 'Action', disposeNote: 'Note (kept on this device only)',
    disposeSave: 'Save', disposeDone: 'Action recorded', disposed: 'Action',
    testPanic: 'Test', testArmed: 'Press the button within 2 minutes (recorded as a test)', panicInput: 'Panic button', fireInput: 'Fire alarm',
    act_handled_on_site: 'Handled on site', act_parent_notified: 'Parent notified', act_escalated: 'Escalated', act_false_alarm: 'False alarm', act_other: 'Other',
    em_evacuation: 'Evacuation', em_lockdown: 'Lockdown', em_fire: 'Fire', em_drill: 'Drill', emergency: 'Emergency',
    rollCall: 'Roll call', missingOf: '{m} of {n} missing', allAccounted: 'Everyone accounted for', accounted: 'Here',
    endEmergency: 'End', startEmergency: 'Start', emStarted: 'Started', emEnded: 'Ended', rollDone: 'Accounted for',
    rollLate: 'Roll call overdue', emSince: 'since {t}',
    health: 'Health checks · attendance', hcPass: 'Pass', hcRefer: 'Refer', hcNone: 'not checked', hcDone: 'Health check recorded',
    hcFever: 'failed', hcMissing: 'check overdue', hcAbsent: 'reported absent', hcNotIn: 'not in', hcNotExpected: 'not expected today',
    hcTemp: '°C', absentBtn: 'Absent', absenceDone: 'Absence recorded', reason_sick: 'Sick', reason_personal: 'Personal',
    reason_other: 'Other',
    counted: 'counted', notCounted: 'Present, not counted: ', onBreak: 'on a break', otherWork: 'at other work',
    roleNotCounted: 'role not counted', certMissing: 'no {c}', certExpired: '{c} expired {d}', certificate: 'certificate',
    setOnDuty: 'On duty', setBreak: 'Break', setOtherWork: 'Other work', presenceDone: 'Presence updated',
    system: 'System', clockSynced: 'Clock synchronised', clockNotSynced: 'Clock not synchronised (times may be wrong)',
    config: 'Configuration', configSince: 'in force since', kept: 'Removed from the roster, still checked in (kept until checked out)',
    refused: 'Configuration reload refused ({n} problems); the running configuration stays',
    journalOk: 'Journal written', journalFailing: 'Journal writes failing: {n} held in memory, not yet recorded',
  }
};
const TYPES = {
  ratio_breach: ['师幼比不足', 'Staff ratio breached'], unsupervised_children: ['幼儿无人看护', 'Children unsupervised'],
  capacity_exceeded: ['班级人数超额', 'Room over capacity'], door_forced: ['门被强行打开', 'Door forced'],
  door_held_open: ['门长时间未关', 'Door held open'], badge_denied: ['未登记卡片', 'Unknown card'],
  unauthorized_pickup: ['非监护人接走幼儿', 'Pick-up by a non-guardian'],
  child_not_checked_out: ['幼儿未被接走', 'Child not picked up'], temperature_high: ['室温过高', 'Room too hot'],
  temperature_low: ['室温过低', 'Room too cold'], humidity_high: ['湿度过高', 'Humidity too high'],
  humidity_low: ['湿度过低', 'Humidity too low'], sensor_stale: ['传感器无数据', 'Sensor silent'],
  sensor_fault: ['传感器故障', 'Sensor fault'], sleep_check_missed: ['午睡巡查超时', 'Sleep check missed'],
  roll_call_incomplete: ['紧急点名未完成', 'Roll call incomplete'], drill_overdue: ['应急演练逾期', 'Drill overdue'],
  health_check_missing: ['未做晨午检', 'Health check missing'], health_check_failed: ['晨午检异常', 'Health check failed'],
  child_absent_unreported: ['幼儿未到且未请假', 'Child absent, not reported'],
  staff_not_qualified: ['人员未持有效证件', 'Staff member not qualified'],
  certificate_expiring: ['证件即将到期', 'Certificate expiring'],
  panic_button: ['一键报警', 'Panic button pressed'], fire_alarm: ['火警', 'Fire alarm'],
  panic_untested: ['一键报警未测试', 'Panic button untested'],
  storage_pressure: ['本地存储将满', 'Local storage nearly full']
};
const CERTS = {
  health: ['健康合格证', 'health certificate'], caregiver: ['保育员证', 'caregiver certificate'],
  infant_care: ['育婴员证', 'infant-care certificate'], teacher: ['教师资格证', 'teaching certificate'],
  nurse: ['护士执业证书', 'nurse licence'], doctor: ['医师执业证书', 'physician licence'], first_aid: ['急救员证', 'first-aid certificate']
};
const certName = (c) => (CERTS[c] ? CERTS[c][lang === 'en' ? 1 : 0] : c);
function reasonText(r) {
  switch (r.reason) {
    case 'break': return t('onBreak');
    case 'other_work': return t('otherWork');
    case 'role': return t('roleNotCounted');
    case 'certificate_missing': return t('certMissing').replace('{c}', certName(r.certificate));
    case 'certificate_expired': return t('certExpired').replace('{c}', certName(r.certificate)).replace('{d}', r.expires);
    default: return r.reason;
  }
}

const wall = location.pathname === '/wall';
let lang = localStorage.getItem('lang');
let view = null, receivedAt = 0, me = null, names = null, pendingAck = null, pendingAction = null;
let history = { transitions: [], ratios: [] };
let health = null;

const $ = (id) => document.getElementById(id);
const t = (k) => (TEXT[lang || 'zh'][k] ?? k);
const typeName = (ty) => (TYPES[ty] ? TYPES[ty][lang === 'en' ? 1 : 0] : ty);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
const hhmm = (iso) => (iso ? iso.slice(11, 16) : '');
function personName(id) {
  if (!names) return id;
  return names.children[id] || names.staff[id] || id;
}
function subjectLabel(a) {
  if (a.subject_name) return a.subject_name;
  return personName(a.subject);
}
function nowMs() {
  // The agent's clock, moved on by the time since the view arrived.
  return view && view.clock ? Date.parse(view.clock) + (Date.now() - receivedAt) : Date.now();
}
function age(iso) {
  const s = Math.max(0, Math.floor((nowMs() - Date.parse(iso)) / 1000));
  const n = s < 60 ? s + t('s') : s < 3600 ? Math.floor(s / 60) + t('m') : Math.floor(s / 3600) + t('h') + (Math.floor(s / 60) % 60) + t('m');
  return n + t('ago');
}
function toast(msg) {
  const e = $('toast');
  e.textContent = msg;
  e.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { e.hidden = true; }, 3000);
}
function bandLabel(b) {
  // Bands are [from, to) in completed months: 0–11 months, then 12–23, …
  return b.to === null ? `${b.from}+${t('months')}` : `${b.from}–${b.to - 1}${t('months')}`;
}

function renderStatic() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  document.querySelectorAll('[data-t]').forEach((e) => { e.textContent = t(e.dataset.t); });
  $('lang').textContent = lang === 'en' ? '中文' : 'English';
  $('login-btn').hidden = wall || !!me;
  $('logout-btn').hidden = wall || !me;
  $('ledger-link').hidden = wall || !me;
  $('who').textContent = wall ? t('wall') : me ? t('loggedIn') + (me.name || me.staff) : '';
  document.body.classList.toggle('wall', wall);
}

function renderAlerts() {
  const list = $('alerts');
  list.replaceChildren();
  $('no-alerts').hidden = view.alerts.length > 0;
  for (const a of view.alerts) {
    const li = el('li', `alert sev-${a.severity}${a.acknowledged ? ' acked' : ''}`);
    li.dataset.alertId = a.alert_id;
    li.dataset.type = a.type;
    li.append(el('span', 'what', typeName(a.type)), el('span', 'subj', subjectLabel(a)));
    li.append(el('span', 'age', age(a.raised)));
    li.lastChild.dataset.raised = a.raised;
    if (a.acknowledged) {
      const who = wall ? a.acknowledged.by : personName(a.acknowledged.by);
      li.append(el('span', 'ack', `${t('acked')} ${t('by')}${who} ${hhmm(localIso(a.acknowledged.at))}`));
    } else if (!wall) {
      const b = el('button', 'ack-btn', t('ack'));
      b.type = 'button';
      b.addEventListener('click', () => acknowledge(a.alert_id, b));
      li.append(b);
    }
    if (a.disposed) {
      const who = wall ? a.disposed.by : personName(a.disposed.by);
      li.append(el('span', 'disposed', `${t('disposed')}: ${t('act_' + a.disposed.action)} ${t('by')}${who}`));
    }
    if (!wall) {
      const d = el('button', 'dispose-btn', t('dispose'));
      d.type = 'button';
      d.addEventListener('click', () => openDispose(a));
      li.append(d);
    }
    list.append(li);
  }
}
function localIso(iso) {
  // Times from the API are UTC or carry the facility's offset; show the facility's local time.
  if (!iso || !view || !view.clock) return iso;
  const m = /([+-])(\d\d):(\d\d)$/.exec(view.clock);
  if (!m) return iso;
  const mins = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  return new Date(Date.parse(iso) + mins * 60000).toISOString();
}

function renderOperations() {
  const list = $('operations');
  if (!list) return;
  list.replaceChildren();
  const ops = view.operations || {};
  const item = (cls, text) => list.append(el('li', cls, text));
  item(ops.clock_synced ? 'ok clock' : 'warn clock', ops.clock_synced ? t('clockSynced') : t('clockNotSynced'));
  if (ops.config) {
    item('config', `${t('config')} ${ops.config.hash.slice(0, 12)} · ${t('configSince')} ${localIso(ops.config.since).slice(0, 16).replace('T', ' ')}`);
    if (ops.config.kept.length) item('warn kept', `${t('kept')}: ${ops.config.kept.map(personName).join(', ')}`);
  }
  if (ops.refused) {
    item('bad refused', t('refused').replace('{n}', ops.refused.count));
    for (const p of (names && names.config_problems) || []) item('bad problem', p);
  }
  if (ops.journal) {
    const ok = ops.journal.state === 'ok';
    item(ok ? 'ok journal' : 'bad journal', ok ? t('journalOk') : t('journalFailing').replace('{n}', ops.journal.held));
  }
}

function renderRooms() {
  const box = $('rooms');
  box.replaceChildren();
  for (const r of view.rooms) {
    const st = r.children === 0 && r.status === 'ok' ? 'empty' : r.status;
    const card = el('div', `room st-${st}`);
    card.dataset.room = r.id;
    card.dataset.status = r.status;
    const h = el('h3');
    h.append(el('span', null, r.name), el('span', 'status', t(st)));
    const ratio = el('div', 'ratio', `${r.staff} / ${r.required}`);
    ratio.append(el('small', null, ` ${t('staff')} / ${t('required')}`));
    const facts = el('div', 'facts');
    const bands = r.by_band.map((n, i) => (n ? `${bandLabel(view.bands[i] || { from: '?', to: null })}: ${n}` : null)).filter(Boolean);
    facts.append(el('span', null, `${t('children')} ${r.children}${bands.length ? ' (' + bands.join(' · ') + ')' : ''}`));
    if (r.capacity !== null) facts.append(el('span', null, `${t('capacity')} ${r.children}/${r.capacity}`));
    if (r.celsius !== null) facts.append(el('span', null, `${r.celsius.toFixed(1)} °C`));
    if (r.humidity !== null) facts.append(el('span', null, `${Math.round(r.humidity)} %RH`));
    card.append(h, ratio, facts);
    const nap = napCard(r);
    if (nap) card.append(nap);
    if (names && names.rooms[r.id]) {
      const ul = el('ul', 'names');
      const occ = names.rooms[r.id];
      for (const id of occ.staff) ul.append(staffItem(id));
      if (occ.children.length) ul.append(el('li', null, occ.children.map(personName).join('、')));
      card.append(ul);
    } else if (r.not_counted) {
      // Counts only: who is not counted is for logged-in staff.
      const n = r.not_counted;
      const parts = [['onBreak', n.break], ['otherWork', n.other_work], ['certificate', n.certificate], ['roleNotCounted', n.role]]
        .filter((p) => p[1] > 0).map((p) => `${t(p[0])} ${p[1]}`);
      if (parts.length) {
        const line = el('div', 'not-counted', t('notCounted') + parts.join(' · '));
        line.dataset.notCounted = r.id;
        card.append(line);
      }
    }
    box.append(card);
  }
}

// One member of staff in a room card (logged-in staff only): counted, or why not, and
// one tap to mark them on duty, on a break or at other work.
function staffItem(id) {
  const p = names.presence && names.presence[id];
  const li = el('li', `person ${p && !p.counted ? 'not-counted' : 'counted'}`);
  li.dataset.staff = id;
  li.append(el('span', 'who', personName(id)));
  if (p) li.append(el('span', 'why', p.counted ? t('counted') : p.not_counted.map(reasonText).join('，')));
  if (p && me && !wall) {
    for (const [st, label] of [['on_duty', 'setOnDuty'], ['break', 'setBreak'], ['other_work', 'setOtherWork']]) {
      if (st === p.presence) continue;
      const b = el('button', 'presence-btn', t(label));
      b.type = 'button';
      b.dataset.presence = st;
      b.addEventListener('click', () => setPresence(id, st, b));
      li.append(b);
    }
  }
  return li;
}

// The nap card of a room: since when it naps, the time since its last check counting up,
// and a one-tap "checked"; or, for logged-in staff, a button to start a nap.
function napCard(r) {
  if (!r.nap) {
    if (wall || !me || r.children === 0) return null;
    const b = el('button', 'nap-start', t('startNap'));
    b.type = 'button';
    b.addEventListener('click', () => napAction(r.id, 'start', b));
    const box = el('div', 'nap idle');
    box.append(b);
    return box;
  }
  const n = r.nap;
  const box = el('div', `nap${n.missed ? ' missed' : ''}`);
  box.dataset.nap = r.id;
  box.append(el('span', 'nap-title', `${t('nap')} · ${t('napFrom').replace('{t}', hhmm(localIso(n.since)))}`));
  const count = el('span', 'nap-age');
  count.dataset.since = n.last_check || n.since;
  count.dataset.label = n.last_check ? 'lastCheck' : 'noCheck';
  count.textContent = napAge(count);
  box.append(count);
  if (n.missed) box.append(el('strong', 'nap-overdue', t('overdue')));
  else if (n.due) box.append(el('span', 'nap-due', `${t('nextCheck')} ${hhmm(localIso(n.due))}`));
  if (!wall) {
    const b = el('button', 'nap-check', t('checked'));
    b.type = 'button';
    b.addEventListener('click', () => sleepCheck(r.id, b));
    box.append(b);
    if (me) {
      const e = el('button', 'nap-end', t('endNap'));
      e.type = 'button';
      e.addEventListener('click', () => napAction(r.id, 'end', e));
      box.append(e);
    }
  }
  return box;
}
function napAge(span) {
  return `${t(span.dataset.label)} ${age(span.dataset.since)}`;
}

// 晨午检 · 出勤, for logged-in staff: each child's check today; a check in two taps (the
// temperature on the number pad, then 正常 or 复查; with no thermometer, one tap), and an
// absence with its reason for a child who is not in.
function renderHealth() {
  const section = $('health-section');
  section.hidden = wall || !me || !health;
  if (section.hidden) return;
  const list = $('health');
  // Rebuilt only when what it shows changed; a temperature being typed (and the focus)
  // survives the rebuild.
  const key = (lang || 'zh') + JSON.stringify(health);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  const typing = {};
  list.querySelectorAll('input.hc-temp').forEach((i) => { if (i.value) typing[i.dataset.child] = i.value; });
  const focused = document.activeElement && document.activeElement.classList.contains('hc-temp')
    ? document.activeElement.dataset.child : null;
  list.replaceChildren();
  for (const c of health.children) {
    const li = el('li', c.failed ? 'failed' : '');
    li.dataset.child = c.id;
    li.append(el('span', 'hc-name', c.name || c.id));
    let state;
    if (c.failed) state = t('hcFever');
    else if (c.checked_at) state = `✓ ${hhmm(c.checked_at)}`;
    else if (c.absent_today) state = t('hcAbsent');
    else if (c.missing) state = t('hcMissing');
    else if (!c.checked_in) state = c.expected_today ? t('hcNotIn') : t('hcNotExpected');
    else state = t('hcNone');
    li.append(el('span', 'hc-state', state));
    const temp = el('input', 'hc-temp');
    temp.type = 'number'; temp.inputMode = 'decimal'; temp.step = '0.1'; temp.min = '34'; temp.max = '43';
    temp.placeholder = t('hcTemp'); temp.dataset.child = c.id;
    temp.setAttribute('aria-label', `${c.name || c.id} ${t('hcTemp')}`);
    if (typing[c.id]) temp.value = typing[c.id];
    const pass = el('button', 'hc-pass', t('hcPass'));
    pass.type = 'button';
    pass.addEventListener('click', () => healthCheck(c.id, temp.value, 'pass', pass));
    const refer = el('button', 'hc-refer', t('hcRefer'));
    refer.type = 'button';
    refer.addEventListener('click', () => healthCheck(c.id, temp.value, 'refer', refer));
    const controls = el('span', 'hc-controls');
    controls.append(temp, pass, refer);
    li.append(controls);
    if (!c.checked_in && !c.absent_today) {
      const reason = el('select', 'hc-reason');
      for (const r of ['sick', 'personal', 'other']) {
        const o = el('option', null, t('reason_' + r));
        o.value = r;
        reason.append(o);
      }
      const absent = el('button', 'hc-absent', t('absentBtn'));
      absent.type = 'button';
      absent.addEventListener('click', () => reportAbsence(c.id, reason.value, absent));
      const away = el('span', 'hc-away');
      away.append(reason, absent);
      li.append(away);
    }
    list.append(li);
    if (c.id === focused) temp.focus();
  }
}
async function loadHealth() {
  if (!me || wall) { health = null; return; }
  const { res, data } = await api('/api/health');
  health = res.ok ? data : null;
}
async function childAction(path, body, done, retry, button, child) {
  if (!me) { pendingAction = retry; openLogin(); return false; }
  if (button) button.disabled = true;
  const { res, data } = await api(path, { method: 'POST', body: JSON.stringify(body) });
  if (res.ok) {
    toast(t(done));
    // Recorded: the temperature typed for this child is done with.
    document.querySelectorAll('input.hc-temp').forEach((i) => { if (i.dataset.child === child) i.value = ''; });
    if (button) button.disabled = false;
    await loadHealth();
    renderHealth();
    return true;
  }
  if (res.status === 401) {
    me = null; names = null; health = null; pendingAction = retry; render(); openLogin();
  } else {
    toast(t('failed') + (data && data.error ? data.error : res.status));
    if (button) button.disabled = false;
  }
  return false;
}
function healthCheck(child, celsius, result, button) {
  const body = { result };
  if (celsius !== '' && celsius !== undefined) body.celsius = Number(celsius);
  return childAction(`/api/children/${encodeURIComponent(child)}/health-check`, body, 'hcDone',
    () => healthCheck(child, celsius, result), button, child);
}
function reportAbsence(child, reason, button) {
  return childAction(`/api/children/${encodeURIComponent(child)}/absence`, { reason }, 'absenceDone',
    () => reportAbsence(child, reason), button, child);
}

function renderDoors() {
  const box = $('doors');
  box.replaceChildren();
  for (const d of view.doors) {
    const cls = d.forced ? 'forced' : d.held ? 'held' : d.open ? 'open' : '';
    const state = d.forced ? t('forced') : d.held ? t('held') : d.open ? t('open') : t('closed');
    const e = el('div', `door ${cls}`, `${d.name || d.id}: ${state}`);
    e.dataset.door = d.id;
    box.append(e);
  }
  // Panic buttons and fire relays; staff arm a wired panic button for a test press.
  const inputs = $('inputs');
  inputs.replaceChildren();
  for (const i of view.inputs || []) {
    const e = el('div', 'door input', `${t(i.kind === 'fire' ? 'fireInput' : 'panicInput')}: ${i.name || i.id}`);
    e.dataset.input = i.id;
    if (!wall && i.kind === 'panic' && i.wired) {
      const b = el('button', 'test-btn', t('testPanic'));
      b.type = 'button';
      b.addEventListener('click', () => testPanic(i.id, b));
      e.append(' ', b);
    }
    inputs.append(e);
  }
}
function testPanic(id, button) {
  return roomAction(`/api/inputs/${encodeURIComponent(id)}/test`, 'testArmed', () => testPanic(id), button);
}

function renderHistory() {
  const ol = $('timeline');
  ol.replaceChildren();
  const items = history.transitions.slice(-100).reverse();
  for (const tr of items) {
    let text = `${hhmm(tr.ts)} ${typeName(tr.type)} · ${subjectName(tr)} · ${t(tr.state)}`;
    if (tr.state === 'acknowledged' && tr.details && tr.details.by) text += ` ${t('by')}${wall ? tr.details.by : personName(tr.details.by)}`;
    const li = el('li', `tr-${tr.state}`, text);
    ol.append(li);
  }
  const charts = $('charts');
  charts.replaceChildren();
  if (!view) return;
  const samples = history.ratios;
  for (const r of view.rooms) {
    const pts = samples.map((s) => [Date.parse(s.t), s.rooms.find((x) => x.room === r.id)]).filter((p) => p[1]);
    const box = el('div', 'chart');
    box.append(el('div', null, r.name));
    if (pts.length < 2) {
      box.append(el('div', 'muted', t('noData')));
      charts.append(box);
      continue;
    }
    const W = 300, H = 60, t0 = pts[0][0], t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
    const maxY = Math.max(1, ...pts.map((p) => Math.max(p[1].staff, p[1].required)));
    const x = (tm) => ((tm - t0) / (t1 - t0)) * W;
    const y = (v) => H - 2 - (v / maxY) * (H - 6);
    const step = (key) => pts.map((p, i) => (i ? `H${x(p[0]).toFixed(1)}V${y(p[1][key]).toFixed(1)}` : `M0,${y(p[1][key]).toFixed(1)}`)).join('') + `H${W}`;
    const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' });
    s.append(svg('title', {}));
    s.firstChild.textContent = `${r.name}: ${t('legendStaff')} / ${t('legendRequired')}`;
    pts.forEach((p, i) => {
      if (p[1].staff < p[1].required) {
        const end = i + 1 < pts.length ? x(pts[i + 1][0]) : W;
        s.append(svg('rect', { class: 'gap', x: x(p[0]).toFixed(1), y: 0, width: Math.max(1, end - x(p[0])).toFixed(1), height: H }));
      }
    });
    s.append(svg('path', { class: 'req', d: step('required') }), svg('path', { class: 'staff', d: step('staff') }));
    // Axes as HTML around the drawing, so that their text is not stretched with it.
    const yAxis = el('div', 'y-axis');
    yAxis.append(el('span', null, String(maxY)), el('span', 'axis-name', t('axisStaff')), el('span', null, '0'));
    const plot = el('div', 'plot');
    plot.append(yAxis, s);
    const xAxis = el('div', 'x-axis');
    const mid = samples[Math.floor(samples.length / 2)].t;
    xAxis.append(el('span', null, hhmm(samples[0].t)), el('span', null, hhmm(mid)), el('span', null, hhmm(samples[samples.length - 1].t)));
    const last = pts[pts.length - 1][1];
    box.firstChild.append(el('span', 'muted', ` · ${t('childrenNow').replace('{n}', last.children)}`));
    box.append(plot, xAxis);
    charts.append(box);
  }
}
function subjectName(tr) {
  if (view) {
    const room = view.rooms.find((r) => r.id === tr.subject);
    if (room) return room.name;
    const door = view.doors.find((d) => d.id === tr.subject);
    if (door && door.name) return door.name;
  }
  return personName(tr.subject);
}

function render() {
  renderStatic();
  if (!view) return;
  $('facility').textContent = view.facility;
  document.title = view.facility;
  $('clock').textContent = view.clock ? view.clock.slice(0, 10) + ' ' + view.clock.slice(11, 19) : '';
  renderAlerts();
  renderEmergency();
  renderOperations();
  renderRooms();
  renderDoors();
  renderHealth();
  renderHistory();
}

async function api(path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (me && opts.method === 'POST') headers['X-CSRF-Token'] = me.csrf;
  const res = await fetch(path, { method: opts.method || 'GET', headers, body: opts.body, credentials: 'same-origin' });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  return { res, data };
}

async function loadHistory() {
  const { res, data } = await api('/api/history');
  if (res.ok && data) { history = data; renderHistory(); }
}
async function loadNames() {
  if (!me) { names = null; return; }
  const { res, data } = await api('/api/names');
  names = res.ok ? data : null;
}

function connect() {
  const es = new EventSource('/api/stream');
  es.addEventListener('open', () => { $('conn').textContent = t('live'); $('conn').className = 'conn live'; $('conn').dataset.t = 'live'; });
  es.addEventListener('error', () => { $('conn').textContent = t('offline'); $('conn').className = 'conn'; $('conn').dataset.t = 'offline'; });
  es.addEventListener('view', async (e) => {
    const next = JSON.parse(e.data);
    if (!lang) lang = next.language || 'zh';
    const occupancyChanged = !view || JSON.stringify(view.rooms) !== JSON.stringify(next.rooms)
      || JSON.stringify(view.emergency) !== JSON.stringify(next.emergency);
    const alertsChanged = !view || JSON.stringify(view.alerts) !== JSON.stringify(next.alerts);
    view = next;
    receivedAt = Date.now();
    if (me && occupancyChanged) await loadNames();
    if (me && !wall && (occupancyChanged || alertsChanged)) await loadHealth();
    render();
  });
  es.addEventListener('transition', (e) => {
    history.transitions.push(JSON.parse(e.data));
    if (history.transitions.length > 2000) history.transitions.shift();
    renderHistory();
  });
  es.addEventListener('resync', loadHistory);
}

function openLogin() {
  $('login-error').textContent = '';
  $('pin').value = '';
  $('login').showModal();
  ($('staff').value ? $('pin') : $('staff')).focus();
}
async function submitLogin(ev) {
  ev.preventDefault();
  const btn = $('login-submit');
  btn.disabled = true;
  try {
    const body = JSON.stringify({ staff: $('staff').value.trim(), pin: $('pin').value });
    const { res, data } = await api('/api/login', { method: 'POST', body });
    $('pin').value = '';
    if (res.status === 429) {
      $('login-error').textContent = t('tooMany').replace('{n}', res.headers.get('Retry-After') || '60');
    } else if (!res.ok) {
      $('login-error').textContent = res.status === 401 ? t('wrong') : t('failed') + (data && data.error);
    } else {
      me = data;
      $('login').close();
      await loadNames();
      await loadHealth();
      await loadHistory();
      render();
      if (pendingAck) { const id = pendingAck; pendingAck = null; await acknowledge(id); }
      if (pendingAction) { const f = pendingAction; pendingAction = null; await f(); }
    }
  } finally {
    btn.disabled = false;
  }
}
async function acknowledge(id, button) {
  if (!me) { pendingAck = id; openLogin(); return; }
  if (button) button.disabled = true;
  const { res, data } = await api(`/api/alerts/${encodeURIComponent(id)}/ack`, { method: 'POST', body: '{}' });
  if (res.ok) {
    toast(t('ackDone'));
  } else if (res.status === 401) {
    me = null; names = null; pendingAck = id; render(); openLogin();
  } else {
    toast(t('failed') + (data && data.error ? data.error : res.status));
    if (button) button.disabled = false;
  }
}
// A room action the page journals (a sleep check, a nap's start or end): asks for the PIN
// first when nobody is logged in, and says what happened.
async function roomAction(path, done, retry, button) {
  if (!me) { pendingAction = retry; openLogin(); return; }
  if (button) button.disabled = true;
  const { res, data } = await api(path, { method: 'POST', body: '{}' });
  if (res.ok) {
    toast(t(done));
  } else if (res.status === 401) {
    me = null; names = null; pendingAction = retry; render(); openLogin();
  } else {
    toast(t('failed') + (data && data.error ? data.error : res.status));
    if (button) button.disabled = false;
  }
}
function sleepCheck(room, button) {
  return roomAction(`/api/rooms/${encodeURIComponent(room)}/sleep-check`, 'checkDone', () => sleepCheck(room), button);
}
function napAction(room, action, button) {
  return roomAction(`/api/rooms/${encodeURIComponent(room)}/nap/${action}`, action === 'start' ? 'napStarted' : 'napEnded',
    () => napAction(room, action), button);
}
// During an emergency the page turns into the roll-call list: counts per room for anyone
// (the wall), the missing people by name with a one-tap "here" for logged-in staff. Out of
// one, logged-in staff can start an emergency or a drill.
const EMERGENCIES = ['evacuation', 'lockdown', 'fire', 'drill'];
function renderEmergency() {
  const box = $('emergency');
  box.replaceChildren();
  const e = view.emergency;
  document.body.classList.toggle('in-emergency', !!e);
  if (!e) {
    box.hidden = wall || !me;
    if (box.hidden) return;
    const row = el('div', 'actions');
    for (const k of EMERGENCIES) {
      const b = el('button', 'em-start', `${t('startEmergency')} ${t('em_' + k)}`);
      b.type = 'button';
      b.dataset.kind = k;
      b.addEventListener('click', () => emergencyAction(k, 'start', b));
      row.append(b);
    }
    box.append(el('h2', null, t('emergency')), row);
    return;
  }
  box.hidden = false;
  const h = el('h2', null, `${t('em_' + e.kind)} · ${t('rollCall')}`);
  const since = el('p', 'muted', t('emSince').replace('{t}', (localIso(e.since) || '').slice(11, 16)));
  const count = el('p', `roll-count${e.incomplete ? ' late' : ''}`,
    e.missing ? t('missingOf').replace('{m}', e.missing).replace('{n}', e.expected) : t('allAccounted'));
  count.id = 'roll-count';
  box.append(h, since, count);
  if (e.incomplete) box.append(el('p', 'error', t('rollLate')));
  const list = el('div', 'grid');
  const missing = names && !wall ? names.roll_call : [];
  for (const r of e.rooms) {
    if (!r.missing) continue;
    const card = el('div', 'room st-breach roll-room');
    card.dataset.room = r.id;
    card.append(el('h3', null, `${r.name} · ${r.missing}`));
    const ul = el('ul', 'roll');
    for (const m of missing.filter((m) => m.room === r.id)) {
      const li = el('li', null, personName(m.person) + ' ');
      li.dataset.person = m.person;
      const b = el('button', 'primary', t('accounted'));
      b.type = 'button';
      b.addEventListener('click', () => rollCall(m.person, b));
      li.append(b);
      ul.append(li);
    }
    card.append(ul);
    list.append(card);
  }
  box.append(list);
  if (!wall && me) {
    const end = el('button', 'em-end', `${t('endEmergency')} ${t('em_' + e.kind)}`);
    end.type = 'button';
    end.addEventListener('click', () => emergencyAction(e.kind, 'end', end));
    box.append(end);
  }
}
function emergencyAction(kind, action, button) {
  return roomAction(`/api/emergency/${encodeURIComponent(kind)}/${action}`, action === 'start' ? 'emStarted' : 'emEnded',
    () => emergencyAction(kind, action), button);
}
function rollCall(person, button) {
  return roomAction(`/api/roll-call/${encodeURIComponent(person)}`, 'rollDone', () => rollCall(person), button);
}
// A disposition (一事一反馈): the action and a note that stays on this device.
let disposing = null;
function openDispose(a) {
  if (!me) { pendingAction = () => openDispose(a); openLogin(); return; }
  disposing = a;
  $('dispose-what').textContent = `${typeName(a.type)} · ${subjectLabel(a)}`;
  $('dispose-error').textContent = '';
  $('dispose-note').value = '';
  $('dispose').showModal();
}
async function submitDispose(ev) {
  ev.preventDefault();
  const a = disposing;
  if (!a) return;
  const btn = $('dispose-submit');
  btn.disabled = true;
  try {
    const body = JSON.stringify({ action: $('dispose-action').value, note: $('dispose-note').value });
    const { res, data } = await api(`/api/alerts/${encodeURIComponent(a.alert_id)}/disposition`, { method: 'POST', body });
    if (res.ok) {
      $('dispose').close();
      disposing = null;
      toast(t('disposeDone'));
    } else if (res.status === 401) {
      $('dispose').close();
      me = null; names = null; pendingAction = () => openDispose(a); render(); openLogin();
    } else {
      $('dispose-error').textContent = t('failed') + (data && data.error ? data.error : res.status);
    }
  } finally {
    btn.disabled = false;
  }
}
function setPresence(staff, state, button) {
  return roomAction(`/api/staff/${encodeURIComponent(staff)}/presence/${state}`, 'presenceDone',
    () => setPresence(staff, state), button);
}
async function logout() {
  await api('/api/logout', { method: 'POST', body: '{}' });
  me = null; names = null; health = null;
  render();
}

async function start() {
  $('lang').addEventListener('click', () => {
    lang = lang === 'en' ? 'zh' : 'en';
    localStorage.setItem('lang', lang);
    render();
  });
  $('login-btn').addEventListener('click', openLogin);
  $('logout-btn').addEventListener('click', logout);
  $('login-cancel').addEventListener('click', () => { pendingAck = null; pendingAction = null; $('login').close(); });
  $('login-form').addEventListener('submit', submitLogin);
  $('dispose-form').addEventListener('submit', submitDispose);
  $('dispose-cancel').addEventListener('click', () => { disposing = null; $('dispose').close(); });
  if (!wall) {
    const { res, data } = await api('/api/session');
    if (res.ok) { me = data; await loadNames(); await loadHealth(); }
  }
  renderStatic();
  connect();
  loadHistory();
  setInterval(loadHistory, 60000);
  // Checks recorded elsewhere (another phone, a thermometer) change no room figures.
  setInterval(async () => { if (me && !wall) { await loadHealth(); renderHealth(); } }, 20000);
  setInterval(() => {
    document.querySelectorAll('.alert .age').forEach((e) => { e.textContent = age(e.dataset.raised); });
    document.querySelectorAll('.nap-age').forEach((e) => { e.textContent = napAge(e); });
  }, 1000);
}
start();
