"""Regenerate docs/quoted_numbers.csv (usage, from the repository root: python docs/make_quotes.py): each spec names where a number is printed; the phrase is formatted from the
committed file and must be found where the spec says (MISS lines are docs to fix). The CSV, not this script, is
what tests/test_committed_numbers.py checks; add a spec here when a page quotes a new number."""
import csv, sys
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[1] / 'tests'))
from test_committed_numbers import recomputed, check_quote, ROOT
SIM = 'docs/simulator.md'; PEERS = 'docs/peers.md'
S_V3 = '## The flagship on v3, re-read on the repaired yardstick'
S_V4 = '## The flagship on v4 with the learning-rate ceiling'
S_RD = '## Readings side by side'
S_PE = '### Simulator side, re-read on the repaired yardstick (2026-12-07)'
specs = []  # (doc, section, row, source_dir, arm, metric, dec, src, style, where, credit)
def q(doc, sec, row, d, arm, metric, dec, src='r', style='pm', where='', credit=''):
    specs.append((doc, sec, row, d, arm, metric, dec, src, style, where, credit))
# v3 table
for a in ['uniform', 'hora', 'hora:truth', 'hora_placebo', 'dapo_dynamic', 'vip', 'knapsack', 'gvm', 'uniform:x2',
          'uniform:x0.5', 'uniform:x4', 'uniform:lr0.35', 'uniform:lr0.85', 'uniform:temp1.5', 'uniform:temp2']:
    row = f'| {a} '
    q(SIM, S_V3, row, 'docs/flagship', a, 'pass@1', 3); q(SIM, S_V3, row, 'docs/flagship', a, 'pass@256', 3)
    q(SIM, S_V3, row, 'docs/flagship', a, 'rollouts_per_step', 0, style='v')
    if a != 'uniform':
        q(SIM, S_V3, row, 'docs/flagship', a, 'frontier_gain@256', 4, style='+pm', credit='check')
        q(SIM, S_V3, row, 'docs/flagship', a, 'step_multiplier@pass@1@50%', 2, credit='check')
        q(SIM, S_V3, row, 'docs/flagship', a, 'compute_multiplier@pass@1@50%', 2, 's', credit='check')
for a, m, dec, src, style in [('uniform', 'steps_to_target@pass@1@50%', 1, 's', 'pm'), ('hora', 'steps_to_target@pass@1@50%', 1, 's', 'pm'),
        ('hora', 'entropy', 3, 'r', 'pm'), ('uniform', 'entropy', 3, 'r', 'pm'), ('uniform:temp1.5', 'entropy', 3, 'r', 'pm'),
        ('uniform:temp2', 'entropy', 3, 'r', 'pm'), ('uniform', 'pass@256_best_temperature', 3, 'r', 'pm'),
        ('hora', 'pass@256_best_temperature', 3, 'r', 'pm'), ('uniform:x2', 'step_multiplier_tuned@pass@1@50%', 2, 'r', 'pm'),
        ('uniform:x2', 'step_multiplier_tuned@pass@1', 2, 'r', 'pm'), ('uniform:x2', 'step_multiplier@pass@1', 2, 'r', 'pm'),
        ('uniform:x2', 'predicted_step_multiplier', 2, 's', 'v'), ('uniform:x2', 'predicted_step_multiplier_snr', 2, 's', 'v'),
        ('uniform', 'b_noise', 0, 's', 'pm'), ('uniform', 'grad_snr', 2, 'r', 'v'), ('uniform:x2', 'grad_snr', 2, 'r', 'v'),
        ('frontier', 'interpolation_bias@256', 4, 's', '+pm'), ('frontier', 'interpolation_bound@256', 4, 's', 'v'),
        ('target', 'target@pass@1@50%', 3, 's', 'v'), ('target', 'start@pass@1', 3, 's', 'v')]:
    q(SIM, S_V3, '', 'docs/flagship', a, m, dec, src, style)
q(SIM, S_V3, '', 'docs/flagship/seed7', 'hora', 'step_multiplier@pass@1@50%', 2)
q(SIM, S_V3, '', 'docs/flagship/seed7', 'hora_placebo', 'step_multiplier@pass@1@50%', 2)
# v4 table
for a in ['uniform', 'hora', 'hora:truth', 'hora_placebo', 'dapo_dynamic', 'uniform:x2', 'uniform:x0.5', 'uniform:x4',
          'uniform:lr0.35', 'uniform:temp1.5', 'uniform:temp2']:
    row = f'| {a} '; d = 'docs/flagship_v4'
    q(SIM, S_V4, row, d, a, 'pass@1', 3); q(SIM, S_V4, row, d, a, 'pass@256', 3)
    if a != 'uniform':
        q(SIM, S_V4, row, d, a, 'step_multiplier@pass@1@50%', 2, credit='check')
        if a not in ('uniform:x0.5', 'uniform:lr0.35', 'uniform:temp1.5', 'uniform:temp2'):
            q(SIM, S_V4, row, d, a, 'step_multiplier@pass@1', 2, credit='check')
        q(SIM, S_V4, row, d, a, 'compute_multiplier@pass@1@50%', 2, 's', credit='check')
    if a in ('uniform:x2', 'uniform:x0.5', 'uniform:x4'):
        q(SIM, S_V4, row, d, a, 'step_multiplier_tuned@pass@1@50%', 2, credit='check')
        q(SIM, S_V4, row, d, a, 'step_multiplier_tuned@pass@1', 2, credit='check')
for d, a, m in [('docs/flagship_v4/seed7', 'uniform:x2', 'step_multiplier@pass@1@50%'), ('docs/flagship_v4/seed7', 'uniform:x2', 'step_multiplier_tuned@pass@1@50%'),
                ('docs/flagship_v4/seed7', 'uniform:x2', 'step_multiplier_tuned@pass@1'), ('docs/flagship_v4/seed7', 'hora', 'step_multiplier@pass@1'),
                ('docs/flagship_v4/seed7', 'hora:truth', 'step_multiplier@pass@1'), ('docs/flagship_v4/seed7', 'dapo_dynamic', 'step_multiplier@pass@1@50%'),
                ('docs/flagship_v4/seed7', 'hora_placebo', 'step_multiplier@pass@1@50%'), ('docs/flagship_v4/seed7', 'hora_placebo', 'step_multiplier@pass@1')]:
    q(SIM, S_V4, '', d, a, m, 2)
for a, m, dec, src, style in [('uniform', 'grad_snr', 2, 'r', 'pm'), ('uniform', 'frontier_gain@256', 3, 'r', 'pm'),
        ('target', 'start@pass@1', 3, 's', 'v'), ('target', 'target@pass@1@50%', 3, 's', 'v'), ('uniform', 'steps_to_target@pass@1@50%', 1, 's', 'pm'),
        ('uniform:x2', 'predicted_step_multiplier', 2, 's', 'v')]:
    q(SIM, S_V4, '', 'docs/flagship_v4', a, m, dec, src, style)
# readings
for r in ['adam/rollout/prompt:0.5', 'adam/rollout/shared', 'adam/prompt/prompt:0.5', 'adam/prompt/shared',
          'sgd/rollout/prompt:0.5', 'sgd/rollout/shared', 'sgd/prompt/prompt:0.5', 'sgd/prompt/shared']:
    row = f'| {r} '
    for a in ['hora', 'knapsack', 'hora_placebo', 'uniform:x2']:
        q(SIM, S_RD, row, 'docs/readings', a, 'step_multiplier@pass@1@50%', 2, where=f'reading={r}', credit='check')
        q(SIM, S_RD, row, 'docs/readings', a, 'frontier_gain@256', 4, style='+pm', where=f'reading={r}')
# peers
for a in ['reinforce_ada_pos', 'dars_hw', 'dars_et', 'reinforce_ada', 'knapsack', 'pods', 'greso', 'dapo_dynamic',
          'speed_rl_dynamic', 'mopps', 'hora:history', 'hora', 'uniform:x2', 'hora_placebo']:
    row = f'| {a} '; d = 'docs/peers/sim_reread'
    q(PEERS, S_PE, row, d, a, 'frontier_gain@256', 4, style='+pm', where='model=sim', credit='check')
    q(PEERS, S_PE, row, d, a, 'step_multiplier@pass@1@50%', 2, where='model=sim', credit='check')
    q(PEERS, S_PE, row, d, a, 'compute_multiplier@pass@1@50%', 2, 's', where='model=sim', credit='check')
    q(PEERS, S_PE, row, d, a, 'rollouts_per_step', 0, style='v', where='model=sim')
ot = [('| SPEED-RL ', 'speed_rl_dynamic', 'hours_multiplier@pass@1', 'baseline=uniform'),
      ('| SPEED-RL ', 'speed_rl_dynamic', 'hours_multiplier@pass@1', 'baseline=dapo_dynamic'),
      ('| GRESO ', 'greso', 'rollouts_multiplier@best_checkpoint', 'baseline=dapo_dynamic'),
      ('| GRESO ', 'greso', 'hours_multiplier@best_checkpoint', 'baseline=dapo_dynamic'),
      ('| PODS ', 'pods', 'step_multiplier@uniform_peak', 'baseline=uniform'),
      ('| PODS ', 'pods', 'hours_multiplier@uniform_peak', 'baseline=uniform'),
      ('| Reinforce-Ada ', 'reinforce_ada', 'step_multiplier@pass@1 (budget-matched)', 'baseline=uniform'),
      ('| Reinforce-Ada ', 'reinforce_ada', 'step_multiplier@pass@1 (as published: 32 vs 4 per prompt)', 'baseline=uniform:k4:x0.125'),
      ('| Knapsack-RL ', 'knapsack', 'compute_multiplier@pass@1', 'baseline=uniform')]
for row, a, m, w in ot:
    specs.append((PEERS, S_PE, row, 'docs/peers/sim_reread/own_terms.csv', a, m, 2, 'o', 'pm', 'model=sim;' + w, ''))

LAB = 'docs/lab.md'; S_LB = '## The study re-read on the repaired yardstick (2026-12-07)'; dl = 'docs/lab/reread'
for a in ['uniform', 'hora', 'hora:truth', 'hora_placebo', 'hard_first', 'informative', 'knapsack', 'dapo', 'dapo_dynamic',
          'uniform:x2', 'uniform:x0.5', 'uniform:x4', 'uniform:lr0.35', 'uniform:lr0.85', 'uniform:temp1.5', 'uniform:temp2']:
    row = f'| {a} '
    q(LAB, S_LB, row, dl, a, 'pass@1', 3); q(LAB, S_LB, row, dl, a, 'pass@256', 3); q(LAB, S_LB, row, dl, a, 'pass@1:level2', 3)
    q(LAB, S_LB, row, dl, a, 'frontier_gain@256', 3, style='+pm', credit='check')
    if a != 'uniform':
        q(LAB, S_LB, row, dl, a, 'step_multiplier@pass@1@50%', 2, credit='check')
        q(LAB, S_LB, row, dl, a, 'compute_multiplier@pass@1@50%', 2, 's', credit='check')
for a, m, dec, src, style in [('uniform', 'steps_to_target@pass@1@50%', 1, 's', 'pm'), ('target', 'start@pass@1', 3, 's', 'v'),
        ('target', 'target@pass@1@50%', 3, 's', 'v'), ('frontier', 'interpolation_bound@256', 4, 's', 'v'),
        ('uniform:x2', 'grad_snr', 2, 'r', 'pm'), ('uniform', 'grad_snr', 2, 'r', 'pm'), ('uniform', 'b_noise', 0, 's', 'pm'),
        ('uniform:x2', 'predicted_step_multiplier', 2, 's', 'v'), ('uniform:x2', 'predicted_step_multiplier_snr', 2, 's', 'pm'),
        ('uniform:x2', 'step_multiplier_tuned@pass@1@50%', 2, 'r', 'pm'), ('uniform', 'entropy', 3, 'r', 'pm'), ('hora', 'entropy', 3, 'r', 'pm'),
        ('uniform:temp1.5', 'entropy', 3, 'r', 'pm'), ('uniform:temp2', 'entropy', 3, 'r', 'pm'),
        ('dapo_dynamic', 'rollouts_per_step', 0, 'r', 'v')]:
    q(LAB, S_LB, '', dl, a, m, dec, src, style)

for a, m in [('hora', 'step_multiplier@pass@256@50%'), ('hora', 'step_multiplier@pass@256'), ('hora:truth', 'step_multiplier@pass@256@50%'),
             ('hora:truth', 'step_multiplier@pass@256'), ('hard_first', 'step_multiplier@pass@256@50%'), ('hard_first', 'step_multiplier@pass@256'),
             ('uniform:lr1.4', 'step_multiplier@pass@256@50%'), ('uniform:lr1.4', 'step_multiplier@pass@256'),
             ('hora_placebo', 'step_multiplier@pass@256@50%'), ('hora_placebo', 'step_multiplier@pass@256'),
             ('dapo_dynamic', 'step_multiplier@pass@256@50%'), ('dapo_dynamic', 'step_multiplier@pass@256'),
             ('uniform:x4', 'step_multiplier@pass@1@50%'), ('uniform:x2', 'step_multiplier@pass@1@50%')]:
    q(LAB, S_LB, '', dl, a, m, 2)
q(LAB, S_LB, '', dl, 'target', 'target@pass@256@50%', 3, 's', 'v'); q(LAB, S_LB, '', dl, 'target', 'target@pass@256', 3, 's', 'v')

da = 'docs/lab/absent_reread'
for a, m, dec, src, style in [('uniform', 'pass@1', 3, 'r', 'pm'), ('uniform', 'pass@256', 3, 'r', 'pm'), ('hora', 'frontier_gain@256', 3, 'r', '+pm'),
        ('frontier', 'interpolation_bound@256', 3, 's', 'v'), ('hora', 'pass@1', 3, 'r', 'pm'), ('hard_first', 'frontier_gain@256', 3, 'r', '+pm'),
        ('hora', 'step_multiplier@pass@256@50%', 2, 'r', 'pm'), ('hora', 'step_multiplier@pass@256', 2, 'r', 'pm'),
        ('uniform:lr1.4', 'step_multiplier@pass@256', 2, 'r', 'pm'), ('hora_placebo', 'step_multiplier@pass@256', 2, 'r', 'pm'),
        ('hora', 'step_multiplier@pass@1@50%', 2, 'r', 'pm'), ('hora', 'entropy', 3, 'r', 'pm'), ('uniform', 'entropy', 3, 'r', 'pm'),
        ('uniform:x2', 'step_multiplier@pass@1@50%', 2, 'r', 'pm'), ('uniform:x2', 'step_multiplier_tuned@pass@1@50%', 2, 'r', 'pm')]:
    q(LAB, S_LB, '', da, a, m, dec, src, style)

RD = 'README.md'; S_WI = '## Ways in'
for a in ['hora', 'dars_hw', 'hora:history', 'reinforce_ada_pos', 'knapsack', 'dars_et', 'greso', 'mopps', 'pods',
          'reinforce_ada', 'speed_rl_dynamic', 'dapo_dynamic', 'hora_placebo', 'uniform:x2']:
    row = f'| {a} '; d = 'docs/peers/sim_reread'
    q(RD, S_WI, row, d, a, 'frontier_gain@256', 4, style='+pm', where='model=sim', credit='check')
    q(RD, S_WI, row, d, a, 'step_multiplier@pass@1@50%', 2, where='model=sim', credit='check')
    q(RD, S_WI, row, d, a, 'rollouts_per_step', 0, style='v', where='model=sim')
S_EV = '## What the evidence says (each number with the command that re-measures it)'
q(RD, S_EV, '', 'docs/flagship', 'hora', 'frontier_gain@256', 3, style='pm')
q(RD, S_EV, '', 'docs/flagship', 'hora', 'step_multiplier@pass@1@50%', 2)
q(RD, S_EV, '', 'docs/lab/reread', 'hora', 'frontier_gain@256', 3, style='+pm')
q(RD, S_EV, '', 'docs/lab/reread', 'hora', 'step_multiplier@pass@1@50%', 2)
for a in ['hora', 'uniform:lr1.4', 'hora_placebo']:
    q(RD, S_EV, '', 'docs/lab/reread', a, 'step_multiplier@pass@256', 2)
# lab regimes (sim_vs_lab per spec, re-read on today's rules)
LAB = 'docs/lab.md'; S_RG = "## Regimes per spec: narrowing and expanding, each with the simulator's predictions (issues 35, 36)"
REG_ARMS = ['uniform', 'hora', 'hora_placebo', 'knapsack', 'hard_first', 'dapo_dynamic', 'uniform:x2', 'uniform:p2',
            'uniform:lr0.35', 'uniform:temp2']
for regime, metrics in (('narrowing', ['pass@1', 'pass@256', 'entropy']), ('expanding', ['pass@1', 'entropy'])):
    d = f'docs/lab/{regime}/reread/lab_replicates.csv'
    speed = ['step_multiplier@pass@1@50%', 'compute_multiplier@pass@1@50%'] + (
        ['step_multiplier@pass@256@50%'] if regime == 'expanding' else [])
    for a in REG_ARMS:
        row = f'| {a} '
        for m in metrics:
            q(LAB, S_RG, row, d, a, m, 3, 'o')
        if a != 'uniform':
            for m in speed:
                q(LAB, S_RG, row, d, a, m, 2, 'o', credit='check')
    q(LAB, S_RG, '', f'docs/lab/{regime}/reread/lab_summary.csv', 'uniform', 'steps_to_target@pass@1@50%', 1, 'o')
    q(LAB, S_RG, '', f'docs/lab/{regime}/reread/lab_summary.csv', 'target', 'target@pass@1@50%', 3, 'o', 'v')
q(RD, S_EV, '', 'docs/lab/narrowing/reread/lab_replicates.csv', 'hora', 'step_multiplier@pass@1@50%', 2, 'o')
for regime in ('narrowing', 'expanding'):
    q(RD, S_EV, '', f'docs/lab/{regime}/reread/lab_replicates.csv', 'uniform:p2', 'step_multiplier@pass@1@50%', 2, 'o', 'v')
dn, de = 'docs/lab/narrowing/reread/lab_replicates.csv', 'docs/lab/expanding/reread/lab_replicates.csv'
d7 = 'docs/lab/narrowing/seed7/replicates.csv'
for d, a, m in [(dn, 'uniform:p2', 'step_multiplier@pass@1'), (d7, 'uniform:p2', 'step_multiplier@pass@1@50%'),
                (d7, 'uniform:x2', 'step_multiplier@pass@1@50%'), (d7, 'hora_placebo', 'step_multiplier@pass@1@50%'),
                (d7, 'uniform:p2', 'step_multiplier@pass@1'), (de, 'uniform:p2', 'step_multiplier@pass@1'),
                (de, 'uniform:lr2', 'step_multiplier@pass@1@50%'), (de, 'uniform:lr2', 'step_multiplier@pass@256@50%'),
                (de, 'uniform:lr1.4', 'step_multiplier@pass@1@50%'), (dn, 'uniform:p2', 'grad_snr'),
                (dn, 'uniform', 'grad_snr')]:
    q(LAB, S_RG, '', d, a, m, 2, 'o')
for a, m in [('uniform:lr0.25', 'pass@1'), ('uniform:lr0.25', 'pass@256')]:
    q(LAB, S_RG, '', dn, a, m, 3, 'o', 'v')
S_LB2 = '## The study re-read on the repaired yardstick (2026-12-07)'; dpc = 'docs/lab/prompts_control/summary.csv'
for a, m, dec in [('uniform:p2', 'step_multiplier_tuned@pass@1@50%', 2), ('uniform:p2', 'step_multiplier_tuned@pass@1', 2),
                  ('uniform:p2', 'step_multiplier_tuned@pass@256@50%', 2), ('uniform:p2', 'step_multiplier_tuned@pass@256', 2),
                  ('uniform:p2', 'step_multiplier@pass@1@50%', 2), ('uniform:p2', 'step_multiplier@pass@1', 2),
                  ('uniform:p2', 'snr_ratio', 2),
                  ('uniform:p2', 'predicted_step_multiplier_snr', 2), ('uniform:p2', 'compute_multiplier_tuned@pass@1@50%', 2),
                  ('uniform:p2', 'compute_multiplier_tuned@pass@1', 2), ('hora_placebo', 'step_multiplier@pass@1@50%', 2),
                  ('hora_placebo', 'step_multiplier@pass@256', 2), 
                  ('uniform:p2', 'compute_multiplier@pass@1', 2), ('uniform:p2', 'compute_multiplier@pass@256', 2),
                  ('uniform:p2', 'entropy', 3), ('uniform', 'entropy', 3), ('uniform', 'b_noise', 0)]:
    q(LAB, S_LB2, '', dpc, a, m, dec, 'o')
q(LAB, S_LB2, '', dpc, 'uniform:p2', 'predicted_step_multiplier', 2, 'o', 'v')
q(RD, S_EV, '', dpc, 'uniform:p2', 'step_multiplier_tuned@pass@1@50%', 2, 'o')
q(RD, S_EV, '', dpc, 'uniform:p2', 'predicted_step_multiplier', 2, 'o', 'v')
dw = 'docs/lab/narrowing_v4wide/reread/sim_replicates.csv'
for a in ('hora', 'knapsack', 'hard_first'):
    q(LAB, S_RG, '', dw, a, 'step_multiplier@pass@1@50%', 2, 'o', 'v')
q(LAB, S_RG, '', dw, 'uniform:x2', 'step_multiplier@pass@1@50%', 2, 'o')
# peers per regime (lab v2) and the mixed spec's table
S_PL = '### Lab side per regime (lab v2, 2026-12-07)'
PEER_LAB_ARMS = ['uniform', 'hora', 'hora:history', 'knapsack', 'dars_et', 'dars_hw', 'mopps', 'pods', 'reinforce_ada',
                 'reinforce_ada_pos', 'greso', 'dapo_dynamic', 'speed_rl_dynamic', 'hora_placebo', 'uniform:x2',
                 'uniform:p2', 'uniform:lr0.35', 'uniform:temp2', 'reinforce_ada:x4', 'uniform:k4:x0.5']
for regime in ('narrowing', 'expanding'):
    d = f'docs/peers/{regime}/lab/replicates.csv'
    S_PL = '#### Narrowing' if regime == 'narrowing' else '#### Expanding'
    for a in PEER_LAB_ARMS:
        row = f'| {a} '
        for m in (('pass@1', 'pass@256', 'entropy') if regime == 'narrowing' else ('pass@1', 'entropy')):
            q(PEERS, S_PL, row, d, a, m, 3, 'o')
        q(PEERS, S_PL, row, d, a, 'rollouts_per_step', 0, 'o', 'v')
        if a != 'uniform':
            for m in ('step_multiplier@pass@1@50%', 'compute_multiplier@pass@1@50%'):
                q(PEERS, S_PL, row, d, a, m, 2, 'o', credit='check')
S_MX = '### The mixed spec: a blind test'
dm = 'docs/lab/mixed/lab_replicates.csv'
for a in REG_ARMS:
    row = f'| {a} '
    for m in ('pass@1', 'pass@256', 'entropy'):
        q(LAB, S_MX, row, dm, a, m, 3, 'o')
    if a != 'uniform':
        for m in ('step_multiplier@pass@1@50%', 'compute_multiplier@pass@1@50%', 'step_multiplier@pass@256',
                  'step_multiplier@pass@1'):
            q(LAB, S_MX, row, dm, a, m, 2, 'o', credit='check')
rows, miss = [], 0
for doc, sec, row, d, arm, metric, dec, src, style, where, credit in specs:
    source = d if src == 'o' else f'{d}/{"replicates" if src == "r" else "summary"}.csv'
    v, se, n = recomputed(ROOT / source, arm, metric, where)
    sign = '+' if style.startswith('+') and v >= 0 else ''
    num = f'{v:,.{dec}f}' if dec == 0 else f'{v:.{dec}f}'
    phrase = sign + num + (f' +- {se:.{dec}f}' if style.endswith('pm') else '')
    r = dict(doc=doc, section=sec, row=row, source=source, arm=arm, metric=metric, where=where, phrase=phrase, credit=credit)
    p = check_quote(r)
    if p: miss += 1; print('MISS', p)
    rows.append(r)
with open(ROOT / 'docs/quoted_numbers.csv', 'w', newline='') as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
print(len(rows), 'quotes,', miss, 'problems')
# lab re-read (appended; rerun regenerates all)
