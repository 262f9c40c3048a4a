
π
root.layer-0"_tf_keras_layer*è{"name": "lambda_1", "class_name": "Lambda", "config": {"name": "lambda_1", "function": "system", "function_type": "function", "module": "os"}}