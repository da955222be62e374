"""What is shown: the model, the image, the clean view, the sidebar's attack and its result, as
one record that ``app.py`` builds once per run and every view reads (``current()``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from compute.lab import Subject
from model.attacks import AttackConfig
from model.inference import Prediction
from model.records import AttackRun
from viz.frames import Display, Shown

from .resources import lab
from .sidebar import AttackChoice, ImageChoice, ModelChoice
from .widgets import guarded

_KEY = "_scene"


@dataclass(frozen=True)
class Scene:
    """``subject`` is the image as the defender reads it (the Glances slider); ``attacker`` the
    same image at the count the attack is crafted against. ``run`` is the sidebar's attack when
    it has run; ``shown`` is that run with its adversarial image read at the defender's count."""

    choice: ModelChoice
    picked: ImageChoice
    attack: AttackChoice
    display: Display
    subject: Subject
    attacker: Subject
    clean: Prediction
    run: AttackRun | None
    shown: AttackRun | None

    @property
    def cfg(self) -> AttackConfig | None:
        return self.attack.config

    @property
    def seed(self) -> int:
        return self.attack.seed

    @property
    def label(self) -> int:
        """The class attacks move away from: the true class when known, else the clean prediction."""
        return self.subject.label

    @property
    def class_names(self) -> list[str]:
        return self.choice.class_names

    def shown_record(self) -> Shown:
        """What the drawing functions draw: the defender's view of the image and the attack."""
        s = self.subject
        return Shown(s.image, self.clean, self.shown, self.class_names, s.box)


def build_scene(choice: ModelChoice, picked: ImageChoice, glances: int, attack: AttackChoice,
                display: Display) -> Scene:
    """The clean view, the label, and the sidebar's attack (run when its button is pressed, or
    when a shared link showed one); stored for the views."""
    model, names = choice.model, choice.class_names

    def subject_for(label: int, n: int) -> Subject:
        return Subject(model, choice.key, picked.image, picked.key, picked.name, label, picked.box, n)

    clean = lab().clean(subject_for(-1, glances))  # the clean view does not depend on the label
    label = picked.label if picked.label is not None else lab().clean(subject_for(-1, attack.glances)).label
    subject, attacker = subject_for(label, glances), subject_for(label, attack.glances)
    cfg, seed = attack.config, attack.seed
    if picked.label is None:
        st.caption(f"No known label: the attack treats the clean prediction "
                   f"({names[label]}) as the class to move away from.")
    run = None
    if cfg is not None:
        run = lab().cached_attack(attacker, cfg, seed)
        mine = st.session_state.setdefault("_attacks_run_here", set())
        key = lab().attack_key(attacker, cfg, seed)
        wanted = st.session_state.pop("_auto_attack", False)  # a shared link that showed an attack
        if cfg.target == "class" and cfg.target_class == label:
            attack.slot.warning("The chosen target class is the class being attacked; choose another one.")
        elif attack.slot.button("Run attack", type="primary", key="run_attack", disabled=run is not None,
                                help="Results are kept: moving back to settings already run shows them at once."):
            if guarded("Attacking", lambda p: lab().attack(attacker, cfg, seed, progress=p)) is not None:
                mine.add(key)
                st.rerun()  # redraw the sidebar with the result cached (the button greys out)
        elif wanted and run is None:  # no rerun: the link's messages above stay on the page
            run = guarded("Attacking", lambda p: lab().attack(attacker, cfg, seed, progress=p))
            mine.add(key)
        elif run is not None and key not in mine:
            attack.slot.caption("Shown from kept results: this attack was run before with these exact settings "
                                "(by a view such as the grid or the batch, or by another visitor of this server).")
    shown = None if run is None else replace(run, prediction=lab().defend(attacker, run, glances))
    scene = Scene(choice, picked, attack, display, subject, attacker, clean, run, shown)
    st.session_state[_KEY] = scene
    return scene


def current() -> Scene:
    """The scene ``app.py`` built in this run (views run only after it)."""
    return st.session_state[_KEY]


def ready(scene: Scene, needs: str | None) -> bool:
    """Whether a view that needs an attack run or valid attack settings can draw; says why not."""
    if needs == "attack" and scene.run is None:
        st.caption("Run an attack (sidebar) to see this.")
        return False
    if needs == "settings" and scene.cfg is None:
        st.caption("Fix the attack settings in the sidebar to run this.")
        return False
    return True
