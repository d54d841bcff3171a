"""Quizzes: the question banks, the widget learners answer in, predictions, the instructor key and grading.

    from alignkit import quiz
    quiz.show("04_ppo_rlhf")      # the chapter's graded quiz (a widget, or static text in CI)
    quiz.predict("04_ppo_rlhf", "predict_kl_free_gold")              # before a run: record a prediction
    quiz.reveal("04_ppo_rlhf", "predict_kl_free_gold", outcome, detail)  # after it: how the prediction fared
    quiz.export()                 # the file a learner hands in

Modules: `bank` (the YAML banks and their salted hashes), `widget` (show, export, the responses file),
`prediction` (predict-then-run questions), `key` (`alignkit quiz-key`: the instructor key) and `grade`
(`alignkit grade`).
"""
from alignkit.quiz.widget import (SUBMISSION_FORMAT, SUBMISSION_VERSION, AnswerTypeError, Feedback, Quiz,
                                  alignkit_home, export, learner_id, read_responses, render_static, responses_path,
                                  show)
from alignkit.quiz.prediction import OutcomeError, Prediction, Recorded, Revealed, predict, reveal

__all__ = ["show", "predict", "reveal", "export", "Quiz", "Feedback", "Prediction", "Recorded", "Revealed",
           "AnswerTypeError", "OutcomeError", "alignkit_home", "responses_path", "learner_id", "read_responses",
           "render_static", "SUBMISSION_FORMAT", "SUBMISSION_VERSION"]
